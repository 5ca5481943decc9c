"""The ROS 2 adapter: ``siamrcnn_node``, a lifecycle node over ``siamrcnn_ros.tracking`` (SPEC §7).

Modules: ``node`` (the node and ``main``), ``parameters`` (declared parameters -> settings),
``session`` (targets, tracker and per-frame results, no ROS), ``frame_buffer`` and ``worker`` (recent
frames; newest-frame-wins hand-over to the inference thread), ``images``, ``conversions``,
``detections`` and ``clicks`` (pure message <-> array functions), ``diagnostics``.
"""
