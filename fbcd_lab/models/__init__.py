"""Backbones, the two heads, the combined model and the prediction rules."""

from fbcd_lab.models.backbones import BACKBONES, build_backbone, feature_shape
from fbcd_lab.models.heads import BalancedNeck, FeatureBalancingHead, channels_for
from fbcd_lab.models.predict import RULES, log_prior, predict_classes
from fbcd_lab.models.two_head import HeadOutputs, TwoHeadModel, build_model, class_weight_norms

__all__ = [
    "BACKBONES", "RULES", "BalancedNeck", "FeatureBalancingHead", "HeadOutputs", "TwoHeadModel",
    "build_backbone", "build_model", "channels_for", "class_weight_norms", "feature_shape",
    "log_prior", "predict_classes",
]
