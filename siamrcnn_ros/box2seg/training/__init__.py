"""Training of the Box2Seg network (``siamrcnn-train-box2seg``): settings -> samples -> loss -> trainer."""
