"""Likelihoods behind one contract (:class:`Likelihood`): Gaussian with a known covariance
(:class:`GaussianNoiseLikelihood`), Student-t, Gaussian with an unknown σ marginalised
(:class:`MarginalNoiseLikelihood`) or Gibbs-sampled (:class:`UnknownNoiseLikelihood`), and
several data sets in one posterior (:class:`JointLikelihood`). The iid Gaussian likelihood
with a known σ is :class:`bayesinv.GaussianLikelihood`."""

from ..protocols import LikelihoodProtocol
from .base import Likelihood, PredictionLikelihood
from .gaussian import GaussianNoiseLikelihood
from .joint import JointLikelihood, StackedForwardMap
from .noise import MarginalNoiseLikelihood, StudentTLikelihood, UnknownNoiseLikelihood

__all__ = [
    "GaussianNoiseLikelihood",
    "JointLikelihood",
    "Likelihood",
    "LikelihoodProtocol",
    "MarginalNoiseLikelihood",
    "PredictionLikelihood",
    "StackedForwardMap",
    "StudentTLikelihood",
    "UnknownNoiseLikelihood",
]
