"""Launches siamrcnn_node on a camera stream.

    ros2 launch siamrcnn_ros siamrcnn.launch.py image_topic:=/camera/color/image_raw
    ros2 launch siamrcnn_ros siamrcnn.launch.py namespace:=tracker use_sim_time:=true   # with ros2 bag play --clock

Arguments: ``image_topic`` (remapped onto the node's ``image`` input; ``<image_topic>_mouse_left`` and
``<image namespace>/camera_info`` follow it), ``params_file`` (default: the package's
``config/siamrcnn.yaml``), ``namespace``, ``use_sim_time``, ``auto_activate`` (configure + activate at start;
false when a lifecycle manager drives the node).

Fast DDS: unless the environment names a profile already, the node gets the package's
``config/fastdds_profile.xml`` (a 16 MiB shared-memory segment: images over 512 KiB, such as its 640x480 debug
image, reach best-effort subscribers in other processes). The camera driver's process needs the same profile for
its images to reach the node (README, "Large images and Fast DDS").
"""
import os

from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

PACKAGE = 'siamrcnn_ros'
EXECUTABLE = 'siamrcnn_node'
PARAMS_FILE = ('config', 'siamrcnn.yaml')
IMAGE_INPUT = 'image'
DDS_PROFILE = ('config', 'fastdds_profile.xml')
DDS_PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')  # Fast DDS 2 reads FASTRTPS_..., Fast DDS 3 FASTDDS_...


def dds_profile_actions() -> list:
    """Sets the Fast DDS profile variable of this distro to the package's profile, unless one is set already."""
    if any(os.environ.get(name) for name in DDS_PROFILE_VARIABLES):
        return []
    name = DDS_PROFILE_VARIABLES[1] if os.environ.get('ROS_DISTRO') in FAST_DDS_2_DISTROS else DDS_PROFILE_VARIABLES[0]
    return [SetEnvironmentVariable(name, PathJoinSubstitution([FindPackageShare(PACKAGE), *DDS_PROFILE]))]


def generate_launch_description() -> LaunchDescription:
    image_topic = LaunchConfiguration('image_topic')
    params_file = LaunchConfiguration('params_file')
    namespace = LaunchConfiguration('namespace')
    use_sim_time = LaunchConfiguration('use_sim_time')
    auto_activate = LaunchConfiguration('auto_activate')
    return LaunchDescription([
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw',
                              description='sensor_msgs/Image topic to track in'),
        DeclareLaunchArgument('params_file',
                              default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), *PARAMS_FILE]),
                              description='YAML file with the node parameters'),
        DeclareLaunchArgument('namespace', default_value='', description='namespace of the node'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='use /clock (ros2 bag play --clock) instead of the wall clock'),
        DeclareLaunchArgument('auto_activate', default_value='true',
                              description='configure and activate at start (false under a lifecycle manager)'),
        *dds_profile_actions(),
        LifecycleNode(
            package=PACKAGE,
            executable=EXECUTABLE,
            name=EXECUTABLE,
            namespace=namespace,
            output='screen',
            parameters=[params_file, {
                'use_sim_time': ParameterValue(use_sim_time, value_type=bool),
                'auto_activate': ParameterValue(auto_activate, value_type=bool),
            }],
            remappings=[(IMAGE_INPUT, image_topic)],
        ),
    ])
