"""Measurements of trained generators: the dataset classifier and (with the evaluation callbacks) the metrics."""

from gan_module.metrics.classifier import DatasetClassifier, train_classifier

__all__ = ["DatasetClassifier", "train_classifier"]
