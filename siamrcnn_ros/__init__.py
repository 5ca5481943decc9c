"""Siam R-CNN visual tracking by re-detection, as a PyTorch library and a ROS 2 package.

Subpackages (see README, "Where things live"): the tracker core never imports rclpy; the ROS
adapter does. The generated message classes are ``siamrcnn_ros.msg`` and ``siamrcnn_ros.srv``.
"""
from pkgutil import extend_path

# In the project environment the code is imported from the source tree while rosidl generated
# msg/ and srv/ into another siamrcnn_ros folder (the colcon install); extend_path joins the
# folders of that name on sys.path into one package. On a ROS 2 install both are in one folder.
__path__ = extend_path(__path__, __name__)

__version__ = '0.1.0'
