"""The classifier's errors.

ClassifierError
 +-- InvalidContentError    a video or text the classifier cannot take (bad segment times, ...)
 +-- ModelError             a model folder that cannot be served
      +-- ModelIntegrityError   model.onnx does not match the sha256 in its card
"""

from __future__ import annotations


class ClassifierError(Exception):
    """Base of every error raised by classifier/."""


class InvalidContentError(ClassifierError):
    pass


class ModelError(ClassifierError):
    pass


class ModelIntegrityError(ModelError):
    pass
