"""The node's ways to pick and drop targets: the ``target`` topic, ``~/set_target``, ``~/clear_target``, clicks.

Each callback (executor thread) turns one message into a ``TrackingSession`` request, answers services with
success and a reason, and reports refused requests through the node's ``ProblemLog`` (log line + diagnostics).
Nothing here waits for the model: the session queues the request for the worker.
"""
from __future__ import annotations

from typing import Any

from geometry_msgs.msg import Point, PointStamped
from sensor_msgs.msg import CameraInfo

from siamrcnn_ros.boxes import InvalidBoxError
from siamrcnn_ros.msg import TargetRequest
from siamrcnn_ros.node.clicks import InvalidClickError, PointTransformer, check_pixel, clicked_point_to_pixel
from siamrcnn_ros.node.conversions import InvalidStampError, box_from_msg, check_stamp
from siamrcnn_ros.node.diagnostics import ProblemLog
from siamrcnn_ros.node.frame_buffer import FrameBuffer
from siamrcnn_ros.node.session import TargetLimitError, TrackingSession
from siamrcnn_ros.srv import ClearTarget, SetTarget


class TargetInputs:
    """Target requests -> the active session. Inactive (no session): services answer why, messages are ignored.

    Args:
        info: writes an info log line (the node logger's ``info``).
        problem: counts and logs refused requests.
        now_ns: the node's clock, ROS time in ns (0 = unknown), for the stamp check (``conversions.check_stamp``).
    """

    def __init__(self, info: Any, problem: ProblemLog, now_ns: Any = lambda: 0) -> None:
        self._info = info
        self._now_ns = now_ns
        self._problem = problem
        self._session: TrackingSession | None = None
        self._frames: FrameBuffer | None = None
        self._transformer: PointTransformer | None = None
        self._camera_info: CameraInfo | None = None
        self._camera_info_topic = ''
        self.state = 'unconfigured'

    def attach(self, session: TrackingSession, frames: FrameBuffer, transformer: PointTransformer | None,
               camera_info_topic: str) -> None:
        """Starts forwarding requests to ``session`` (on activate)."""
        self._session, self._frames, self._transformer = session, frames, transformer
        self._camera_info_topic = camera_info_topic

    def detach(self) -> None:
        """Stops forwarding (on deactivate); the last camera_info is forgotten too."""
        self._session, self._frames, self._camera_info = None, None, None

    def on_target(self, msg: TargetRequest) -> None:
        ok, text, _ = self._request_box(msg.target_id, msg.box, msg.header.stamp)
        if ok:
            self._info(f'target topic: {text}')

    def on_set_target(self, request: SetTarget.Request, response: SetTarget.Response) -> SetTarget.Response:
        response.success, response.message, response.target_id = self._request_box(
            request.target_id, request.box, request.header.stamp)
        if response.success:
            self._info(f'set_target: {response.message}')
        return response

    def on_clear_target(self, request: ClearTarget.Request, response: ClearTarget.Response) -> ClearTarget.Response:
        session = self._session
        if session is None:
            response.success, response.message = request.target_id == 0, f'the node is {self.state}: no targets'
            return response
        try:
            cleared = session.request_clear(request.target_id)
        except TargetLimitError as error:
            response.success, response.message = False, str(error)
            return response
        response.success, response.message = True, f'cleared targets {cleared}'
        self._info(f'clear_target: {response.message}')
        return response

    def on_pixel_click(self, msg: Point) -> None:
        """rqt_image_view's "publish click location": pixels of the viewed image."""
        self._click((msg.x, msg.y), 'image click')

    def on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def on_clicked_point(self, msg: PointStamped) -> None:
        """RViz's Publish Point: a 3-D point, projected into the camera image with camera_info (and TF)."""
        info = self._camera_info
        if self._session is None:
            return
        if info is None:
            self._problem('click', f'/clicked_point ignored: no camera_info received yet on '
                                   f'{self._camera_info_topic}, needed to project it')
            return
        try:
            pixel = clicked_point_to_pixel((msg.point.x, msg.point.y, msg.point.z), msg.header.frame_id, info,
                                           self._transformer)
        except InvalidClickError as error:
            self._problem('click', f'/clicked_point ignored: {error}')
            return
        self._click(pixel, f'/clicked_point in {msg.header.frame_id or info.header.frame_id!r}')

    def _request_box(self, target_id: int, box: Any, stamp: Any) -> tuple[bool, str, int]:
        session = self._session
        if session is None:
            return False, f'the node is {self.state}: activate it first', 0
        try:
            stamp_ns = check_stamp(stamp, self._now_ns())  # 0 = the newest frame
            target_id, note = session.request_box(target_id, box_from_msg(box), stamp_ns)
        except (InvalidStampError, InvalidBoxError, TargetLimitError) as error:
            self._problem(error.kind, f'target request rejected: {error}')
            return False, str(error), 0
        return True, f'target {target_id} accepted; {note}', target_id

    def _click(self, pixel: tuple[float, float], source: str) -> None:
        session, frames = self._session, self._frames
        if session is None or frames is None:
            return
        newest = frames.newest()
        try:
            if newest is None:
                raise InvalidClickError('no image received yet to click on')
            check_pixel(pixel[0], pixel[1], newest.size)
            target_id = session.request_click(pixel)
        except (InvalidClickError, TargetLimitError) as error:
            self._problem(error.kind, f'{source} ignored: {error}')
            return
        self._info(f'{source} at pixel ({pixel[0]:.0f}, {pixel[1]:.0f}): target {target_id} will be the best object '
                   f'proposal there')
