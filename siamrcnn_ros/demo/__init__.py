"""``siamrcnn-demo`` (``make demo``): the real node tracking a held-out synthetic long-term video played in as ROS
messages, with an annotated video, a success plot and a summary as the outputs.

Modules: ``clip`` (the synthetic world and the clip played), ``node_process`` (the node as an OS process),
``player`` (the rclpy side: frames out, target set, Track messages in), ``records`` (Track messages as plain
per-frame records), ``outputs`` (video, plots, results file, summary), ``cli`` (the command).
"""
