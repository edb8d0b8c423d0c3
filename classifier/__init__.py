"""Text in, scores out: normalisation, windowing, the ONNX scorer, metrics and model cards.

Imports no web, Redis or database code. Serving needs numpy and onnxruntime only: scikit-learn
and skl2onnx are imported by classifier.train and classifier.export alone.
"""

from classifier.card import ModelCard, active_version, set_active_version
from classifier.errors import ClassifierError, InvalidContentError, ModelError, ModelIntegrityError
from classifier.features import NgramSpec
from classifier.language import detect_language
from classifier.metrics import Thresholds
from classifier.normalise import normalise
from classifier.scorer import Evidence, OnnxScorer, VideoScores
from classifier.video import TextUnit, TranscriptSegment, Video, Windowing, video_from_json

__all__ = [
    "ClassifierError",
    "Evidence",
    "InvalidContentError",
    "ModelCard",
    "ModelError",
    "ModelIntegrityError",
    "NgramSpec",
    "OnnxScorer",
    "TextUnit",
    "Thresholds",
    "TranscriptSegment",
    "Video",
    "VideoScores",
    "Windowing",
    "active_version",
    "detect_language",
    "normalise",
    "set_active_version",
    "video_from_json",
]
