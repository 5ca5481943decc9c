"""``siamrcnn_node``: the lifecycle node that tracks targets in a camera stream (SPEC §7, issue 5).

Lifecycle (managed node): *configure* validates the parameters and loads the model on the CPU (a failure
is logged and the transition fails); *activate* moves it to the device, creates the subscriptions and
starts the worker thread; *deactivate* stops them, clears the targets and moves the model back to the CPU,
freeing GPU memory; *cleanup* drops the model. ``auto_activate`` does configure + activate at start.
The Box2Seg mask network (``mask.enabled``) follows the model: loaded on the CPU at configure (or when
masks are turned on later), on the device while active.

Threads: the executor runs the callbacks (images, targets, clicks, services, parameters, timer); they only
convert, check and queue. One worker thread (``FrameWorker``) runs the tracker on the newest frame and
publishes; frames that arrive meanwhile replace each other and are counted as dropped.

Topics are relative (remappable; ``~/`` = node-private). Derived from the resolved image topic, as
image_transport and rqt_image_view name them: ``<image>/compressed``, ``<image>_mouse_left`` and
``<image namespace>/camera_info``.
"""
from __future__ import annotations

import argparse
import gc
import signal
import sys
import time
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point, PointStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions
from rclpy.utilities import remove_ros_args
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from siamrcnn_ros.box2seg.predictor import Box2Seg
from siamrcnn_ros.msg import TargetRequest, Track, TrackArray
from siamrcnn_ros.node import parameters
from siamrcnn_ros.node.clicks import PointTransformer
from siamrcnn_ros.node.detections import load_vision_types, tracks_to_detections
from siamrcnn_ros.node.devices import ModelHost
from siamrcnn_ros.node.diagnostics import Health, ProblemLog, diagnostic_status
from siamrcnn_ros.node.frame_buffer import Frame, FrameBuffer
from siamrcnn_ros.node.images import BACKEND as IMAGE_BACKEND
from siamrcnn_ros.node.images import rgb_to_image_msg
from siamrcnn_ros.node.intake import ImageIntake
from siamrcnn_ros.node.masks import MaskHost
from siamrcnn_ros.node.outputs import debug_image, frame_track_array, frame_tracks
from siamrcnn_ros.node.parameter_guard import guard_parameter_services
from siamrcnn_ros.node.qos import (
    TRACK_OUTPUT_DEPTH,
    dds_profile_note,
    image_qos,
    latest_only_qos,
    no_image_message,
    reliable_qos,
)
from siamrcnn_ros.node.session import FrameOutcome, TrackingSession
from siamrcnn_ros.node.targets import TargetInputs
from siamrcnn_ros.node.worker import FrameWorker
from siamrcnn_ros.srv import ClearTarget, SetTarget

try:  # Iron and later
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

NODE_NAME = 'siamrcnn_node'
IMAGE_INPUT = 'image'
"""The camera input (remap it: ``-r image:=/camera/image_raw``)."""
TARGET_INPUT = 'target'
"""TargetRequest input (reliable)."""
INPUTS = (IMAGE_INPUT, TARGET_INPUT)
"""Relative input topic names a launch file may remap."""
DIAGNOSTICS_PERIOD_S = 1.0


class SiamRCNNNode(LifecycleNode):
    """The tracking node (see the module docstring); ``kwargs`` go to ``rclpy.node.Node``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._values = parameters.declare(self)
        self._settings: parameters.NodeSettings | None = None
        self._settings_error = ''
        try:
            self._settings = parameters.settings_from_values(self._values)
        except ValueError as error:
            self._settings_error = str(error)
            self.get_logger().error(f'invalid parameters: {error}; configure will fail until they are fixed')
        self.add_on_set_parameters_callback(self._on_set_parameters)
        guard_parameter_services(self)  # a ParameterValue.type rclpy cannot read must not end the process
        self._state = 'unconfigured'
        self._health = Health()
        self._host = ModelHost()
        self._masks = MaskHost()
        self._vision = load_vision_types()
        self._problem = ProblemLog(self._health, self.get_logger().warning)
        self._frames: FrameBuffer | None = None
        self._session: TrackingSession | None = None
        self._worker: FrameWorker[Frame] | None = None
        self._subscriptions_made: list[Any] = []
        self._publishers_made: list[Any] = []
        self._services_made: list[Any] = []
        self._image_topic = ''
        self._intake: ImageIntake | None = None
        self._waiting_since = time.monotonic()
        self._transformer: PointTransformer | None = None
        self._targets = TargetInputs(self.get_logger().info, self._problem,
                                     lambda: self.get_clock().now().nanoseconds)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._on_timer)

    @property
    def auto_activate(self) -> bool:
        return bool(self._values['auto_activate'])

    # --- lifecycle -------------------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._settings is None:
            self.get_logger().error(f'configure failed: invalid parameters: {self._settings_error}')
            return TransitionCallbackReturn.FAILURE
        model = self._settings.model
        try:
            self._host.load(model.preset, checkpoint=model.checkpoint, detector_weights=model.detector_weights,
                            device=model.device)
        except Exception as error:  # any loading failure must fail the transition with a reason, not crash
            self.get_logger().error(f'configure failed: cannot load the model (preset {model.preset!r}, checkpoint '
                                    f'{model.checkpoint!r}): {type(error).__name__}: {error}')
            return TransitionCallbackReturn.FAILURE
        if self._host.checkpoint_path is None:
            self.get_logger().warning(f'no checkpoint (model.checkpoint {model.checkpoint!r}, preset '
                                      f'{model.preset!r}): the re-detection head has random weights and the tracks '
                                      'are meaningless (fine to check the plumbing)')
        else:
            self.get_logger().info(f'model: preset {model.preset!r}, checkpoint {self._host.checkpoint_path}')
        if self._host.device_warning:
            self.get_logger().warning(self._host.device_warning)
        self._masks.release()
        if self._settings.mask.enabled:
            error = self._load_masks(self._settings.mask.checkpoint)
            if error:
                self.get_logger().error(f'configure failed: {error}')
                self._host.release()
                return TransitionCallbackReturn.FAILURE
        self._publishers_made = [
            self.create_lifecycle_publisher(Track, '~/track', reliable_qos(TRACK_OUTPUT_DEPTH)),
            self.create_lifecycle_publisher(TrackArray, '~/tracks', reliable_qos(TRACK_OUTPUT_DEPTH)),
            self.create_lifecycle_publisher(Image, '~/debug_image', reliable_qos(1)),
        ]
        if self._vision is not None:
            self._publishers_made.append(
                self.create_lifecycle_publisher(self._vision.detection_array, '~/detections', reliable_qos()))
        self._services_made = [self.create_service(SetTarget, '~/set_target', self._targets.on_set_target),
                               self.create_service(ClearTarget, '~/clear_target', self._targets.on_clear_target)]
        if self._transformer is None:  # once: its TF listener subscribes for the node's lifetime
            self._transformer = PointTransformer(self)
        if not self._transformer.available:
            self.get_logger().info('tf2 is not installed: /clicked_point is accepted only in the camera frame '
                                   '(the frame_id of camera_info)')
        self._set_state('inactive')
        self.get_logger().info(f'configured: preset {model.preset!r}, device {self._host.device_text} '
                               f'(requested {model.device!r}), image conversion by {IMAGE_BACKEND}; '
                               f'{dds_profile_note()}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        settings = self._settings
        try:
            self._host.to_device()
            box2seg = self._mask_predictor() if settings.mask.enabled and self._masks.loaded else None
        except Exception as error:  # e.g. CUDA out of memory: stay inactive, say why
            self.get_logger().error(f'activate failed: cannot move the model to {self._host.device_text}: {error}')
            self._host.to_cpu()
            self._masks.to_cpu()
            return TransitionCallbackReturn.FAILURE
        self._frames = FrameBuffer(settings.frame_buffer.length)
        self._session = TrackingSession(self._host.model, settings.tracker, settings.max_targets, self._frames,
                                        self._problem, box2seg=box2seg)
        self._worker = FrameWorker(self._process, self._on_worker_error)
        self._worker.start()
        self._intake = ImageIntake(self._session, self._frames, self._problem)
        self._health.reset()
        self._waiting_since = time.monotonic()
        self._subscribe(settings)
        self._set_state('active')
        self.get_logger().info(f'active: tracking on {self._host.device_text}; images from {self._image_topic}')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self._set_state('inactive')
        self.get_logger().info('inactive: targets cleared, model moved to the CPU (GPU memory released)')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release_all()
        self._set_state('unconfigured')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self._release_all()
        self._set_state('finalized')
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f'error in a transition from {state.label}: releasing everything')
        self._stop_processing()
        self._release_all()
        self._set_state('unconfigured')
        return TransitionCallbackReturn.SUCCESS

    def _set_state(self, label: str) -> None:
        self._state = self._targets.state = label

    def summary(self) -> str:
        """One line: frames processed, dropped, inputs rejected."""
        snapshot = self._health.snapshot(time.monotonic())
        return (f'{snapshot.frames_processed} frames processed, {snapshot.frames_dropped} dropped, '
                f'{sum(snapshot.problems.values())} inputs rejected')

    def close(self) -> None:
        """Stops the worker and frees the model (process exit without lifecycle transitions)."""
        self._stop_processing()
        self._masks.release()
        self._host.release()

    def _subscribe(self, settings: parameters.NodeSettings) -> None:
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos,
                                            message_lost=self._on_images_lost)
        image_sub = self.create_subscription(Image, IMAGE_INPUT, self._on_image, image_qos(settings.image_qos),
                                             event_callbacks=events)
        self._image_topic = image_sub.topic_name
        camera_info_topic = f'{self._image_topic.rsplit("/", 1)[0]}/camera_info'
        self._targets.attach(self._session, self._frames, self._transformer, camera_info_topic)
        targets = self._targets
        subs = [
            image_sub,
            self.create_subscription(TargetRequest, TARGET_INPUT, targets.on_target, reliable_qos()),
            self.create_subscription(Point, f'{self._image_topic}_mouse_left', targets.on_pixel_click, reliable_qos()),
            self.create_subscription(Point, '~/debug_image_mouse_left', targets.on_pixel_click, reliable_qos()),
            self.create_subscription(PointStamped, '/clicked_point', targets.on_clicked_point, reliable_qos()),
            self.create_subscription(CameraInfo, camera_info_topic, targets.on_camera_info, latest_only_qos()),
        ]
        if settings.compressed_input:
            subs.append(self.create_subscription(CompressedImage, f'{self._image_topic}/compressed', self._on_image,
                                                 image_qos(settings.image_qos), event_callbacks=events))
        self._subscriptions_made = subs

    def _stop_processing(self) -> None:
        self._targets.detach()
        for subscription in self._subscriptions_made:
            self.destroy_subscription(subscription)
        self._subscriptions_made = []
        if self._worker is not None and not self._worker.stop(timeout=60.0):
            self.get_logger().error('the worker thread did not stop within 60 s')
        self._worker, self._session, self._frames, self._intake = None, None, None, None
        gc.collect()  # templates and features of the cleared targets may sit on the GPU
        self._masks.to_cpu()
        self._host.to_cpu()

    def _release_all(self) -> None:
        for publisher in self._publishers_made:
            self.destroy_lifecycle_publisher(publisher)
        for service in self._services_made:
            self.destroy_service(service)
        self._publishers_made, self._services_made = [], []
        self._masks.release()
        self._host.release()

    # --- inputs (executor thread) ----------------------------------------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        """The per-image path shared with siamrcnn-replay (``intake.ImageIntake``), then the worker hand-over."""
        intake, worker, settings = self._intake, self._worker, self._settings
        if intake is None or worker is None:
            return
        arrival = time.monotonic()
        self._health.image_received(arrival)
        accepted = intake.accept(msg, settings.max_image_pixels, arrival, self.get_clock().now().nanoseconds)
        if accepted is None:
            return
        for kind, text in accepted.notes:
            self._health.note(kind, text)
            self._problem.log(f'note:{kind}', f'image accepted with a note: {text}')
        if accepted.missing:
            self._health.images_missing(accepted.missing)
        if worker.submit(accepted.frame):
            self._health.frame_dropped()

    def _on_images_lost(self, event: Any) -> None:
        """DDS sample-lost event of the image subscription: images the reader knows it never got whole."""
        self._health.images_lost(int(event.total_count_change))
        self._problem.log('images_lost', f'{event.total_count_change} image(s) lost by DDS on {self._image_topic} '
                                         f'({event.total_count} since the start): a best-effort image over 512 KiB '
                                         f'from a process without the package\'s Fast DDS profile '
                                         f'(config/fastdds_profile.xml, README) never arrives whole')

    def _on_incompatible_qos(self, event: Any) -> None:
        self.get_logger().error(f'QoS mismatch on {self._image_topic}: a publisher offers a QoS this subscription '
                                f'cannot receive (policy {event.last_policy_kind}); image_qos.reliability is '
                                f'{self._settings.image_qos.reliability!r} (best_effort receives from every publisher)')

    def _on_set_parameters(self, changes: list[Parameter]) -> SetParametersResult:
        """rclpy's on-set callback: validates a change of the node's own parameters (the whole settings tree).

        Parameters rclpy declares itself (``use_sim_time``, QoS overrides) pass unchecked: rclpy validates and
        applies those. A name nobody declared (rclpy lets an empty name through, README "Known issues") is refused.
        """
        ours = [change for change in changes if change.name in parameters.SPECS]
        undeclared = [change.name for change in changes
                      if change.name not in parameters.SPECS and not self.has_parameter(change.name)]
        if undeclared:
            return SetParametersResult(successful=False, reason=f'parameter {undeclared[0]!r} is not declared by '
                                                                f'{NODE_NAME}; `ros2 param list` shows those it has')
        if not ours:
            return SetParametersResult(successful=True)
        values = dict(self._values)
        values.update({change.name: change.value for change in ours})
        try:
            settings = parameters.settings_from_values(values)
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        session = self._session
        box2seg = None
        if settings.mask.enabled and self._state in ('inactive', 'active'):
            if not self._masks.loaded:  # turned on in a configured node: load now, refuse the change on failure
                error = self._load_masks(settings.mask.checkpoint)
                if error:
                    return SetParametersResult(successful=False, reason=error)
            if session is not None:
                try:
                    box2seg = self._mask_predictor()
                except Exception as error:  # e.g. CUDA out of memory
                    return SetParametersResult(successful=False, reason=f'cannot move the Box2Seg network to '
                                                                        f'{self._host.device_text}: {error}')
        self._values, self._settings, self._settings_error = values, settings, ''
        if session is not None:
            session.set_tracker_settings(settings.tracker)
            session.set_max_targets(settings.max_targets)
            session.set_box2seg(box2seg)
        for when, names in parameters.changed_effects({c.name: c.value for c in ours}).items():
            self.get_logger().info(f'parameters {", ".join(names)} changed: they take effect {when}')
        return SetParametersResult(successful=True)

    def _load_masks(self, checkpoint: str) -> str:
        """Loads the Box2Seg network on the CPU and logs what was loaded; returns '' or the reason it failed."""
        try:
            self._masks.load(checkpoint)
        except Exception as error:  # any loading failure is a reason to report, not a crash
            return f'cannot load the Box2Seg network (mask.checkpoint {checkpoint!r}): {type(error).__name__}: {error}'
        if self._masks.checkpoint_path is None:
            self.get_logger().warning(f'no Box2Seg checkpoint (mask.checkpoint {checkpoint!r}: "none", or the '
                                      'shipped file is missing): the mask network has random weights and the masks '
                                      'are meaningless (fine to check the plumbing)')
        else:
            self.get_logger().info(f'masks: Box2Seg checkpoint {self._masks.checkpoint_path}')
        return ''

    def _mask_predictor(self) -> Box2Seg:
        """The loaded Box2Seg network on the model's device."""
        return self._masks.predictor(self._host.device_text or 'cpu')

    # --- the worker thread ------------------------------------------------------------------------------

    def _process(self, frame: Frame) -> None:
        session = self._session
        if session is None:
            return
        started = time.monotonic()
        outcome = session.process(frame)
        self._publish(outcome)
        now = time.monotonic()
        stamp_latency = None
        if frame.stamp_ns:
            stamp_latency = (self.get_clock().now().nanoseconds - frame.stamp_ns) / 1e9
        self._health.frame_processed(now, now - started, stamp_latency)

    def _publish(self, outcome: FrameOutcome) -> None:
        track_pub, array_pub, debug_pub, *rest = self._publishers_made
        tracks = frame_tracks(outcome, time.monotonic() - outcome.frame.arrival_s)
        for track in tracks:
            track_pub.publish(track)
        array = frame_track_array(outcome, tracks)
        array_pub.publish(array)
        if rest and self._vision is not None:
            rest[0].publish(tracks_to_detections(array, self._vision))
        if self._settings.debug_image and debug_pub.get_subscription_count() > 0:
            rate = self._health.snapshot(time.monotonic()).output_rate_hz
            debug_pub.publish(rgb_to_image_msg(debug_image(outcome, rate), outcome.frame.header))

    def _on_worker_error(self, frame: Frame, error: Exception) -> None:
        self._problem('processing', f'tracking the frame stamped {frame.stamp_ns} ns failed: '
                                    f'{type(error).__name__}: {error}')

    # --- reporting --------------------------------------------------------------------------------------

    def _on_timer(self) -> None:
        """Publishes /diagnostics; while active, warns when no image has come for ``no_image_warning_s``."""
        now = time.monotonic()
        settings = self._settings
        snapshot = self._health.snapshot(now)
        no_image_for = None
        if self._state == 'active' and settings is not None:
            waiting = snapshot.seconds_since_image
            waiting = now - self._waiting_since if waiting is None else waiting
            if waiting > settings.no_image_warning_s:
                no_image_for = waiting
                publishers = self.get_publishers_info_by_topic(self._image_topic)
                self._problem.log('no_image', no_image_message(self._image_topic, waiting, settings.image_qos,
                                                               publishers), every_s=settings.no_image_warning_s)
        session = self._session
        status = diagnostic_status(
            snapshot, name=f'{self.get_fully_qualified_name()}: tracker', state=self._state,
            device=self._host.device_text, targets=len(session.target_ids) if session is not None else 0,
            device_warning=self._host.device_warning, no_image_for_s=no_image_for)
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``siamrcnn_node``: runs the node until Ctrl-C or shutdown; ROS arguments pass through to rclpy."""
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog='siamrcnn_node',
        description='Siam R-CNN tracking node (ROS 2 lifecycle node). Subscribes to `image` (remap it), '
                    'tracks targets set on `target`, ~/set_target or by a click, publishes ~/track, ~/tracks, '
                    '~/debug_image and /diagnostics.',
        epilog='ROS arguments follow --ros-args, e.g. --ros-args -r image:=/camera/image_raw '
               '--params-file config/siamrcnn.yaml -p auto_activate:=true -p model.device:=cpu')
    parser.parse_args(remove_ros_args(argv)[1:])
    # Our own Ctrl-C / SIGTERM handling: stop the worker before the context goes away, so a frame in flight
    # is never published on a shut-down context.
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # Also when started with SIGINT ignored (a child of a background shell job inherits that, and Python then
    # leaves it ignored): Ctrl-C / SIGINT is how ros2 launch and users stop a node.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    node, status = None, 0
    try:
        node = SiamRCNNNode()
        if node.auto_activate and (node.trigger_configure() != TransitionCallbackReturn.SUCCESS
                                   or node.trigger_activate() != TransitionCallbackReturn.SUCCESS):
            print('siamrcnn_node: auto_activate failed (see the error above)', file=sys.stderr)
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.close()
            print(f'siamrcnn_node: {node.summary()}', file=sys.stderr)
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == '__main__':
    sys.exit(main())
