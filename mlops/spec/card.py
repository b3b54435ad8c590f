"""`model.card`: what a person reads about the model beside its numbers, shown in every version's model card
(`mlops report`). Free text only; it changes no training, so it is left out of the plan's hashes."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from mlops.spec.base import StrictModel


class CardSpec(StrictModel):
    """The model card's intended-use section."""

    description: Optional[str] = Field(None, description="what the model predicts, in a sentence or two")
    intended_use: Optional[str] = Field(None, description="who uses the predictions, for what decision")
    out_of_scope: Optional[str] = Field(None, description="uses the model is not made or validated for")
    limitations: Optional[str] = Field(None, description="known weaknesses: populations, ranges or periods it "
                                                         "was not trained on, biases found")
    owners: list[str] = Field(default_factory=list, description="who answers for the model (names or team addresses)")
