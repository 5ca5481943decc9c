"""Command-line tools over the tracker library (no ROS): track, TraX server."""
