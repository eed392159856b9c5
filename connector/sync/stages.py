"""Which stages are closed-won, per pipeline: mapping first, then the CRM's own flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import delete
from sqlalchemy.orm import Session

from connector.mapping import MappingProfile
from connector.storage.models import CrmStage
from platforms.crm import CrmDeal, CrmPipeline


@dataclass
class StageBook:
    """Closed-won stages per pipeline, resolved once per run."""

    mapped: dict[str, set[str]] = field(default_factory=dict)
    probability_won: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def build(cls, profile: MappingProfile, pipelines: list[CrmPipeline]) -> StageBook:
        """From the profile's ``won_stages`` and the CRM's pipelines."""
        won = {
            (p.id, s.id)
            for p in pipelines
            for s in p.stages
            if s.is_won or (s.probability is not None and s.probability >= 1.0)
        }
        return cls({k: set(v) for k, v in profile.won_stages.items()}, won)

    def is_won(self, deal: CrmDeal) -> bool:
        """Mapping's stage list if it names the pipeline, else the deal's flag, else p=1.0."""
        pipeline = deal.pipeline or "default"
        if pipeline in self.mapped:
            return deal.stage in self.mapped[pipeline]
        if deal.is_closed_won is not None:
            return deal.is_closed_won
        return (pipeline, deal.stage or "") in self.probability_won


def store_pipelines(
    session: Session, profile: MappingProfile, pipelines: list[CrmPipeline]
) -> None:
    """Replace the stored stages (display order, probability, won/closed) with the CRM's."""
    if not pipelines:
        return
    session.execute(delete(CrmStage).where(CrmStage.pipeline.in_([p.id for p in pipelines])))
    book = StageBook.build(profile, pipelines)
    for pipeline in pipelines:
        for stage in pipeline.stages:
            mapped = book.mapped.get(pipeline.id)
            won = (
                stage.id in mapped
                if mapped is not None
                else (pipeline.id, stage.id) in (book.probability_won)
            )
            session.add(
                CrmStage(
                    pipeline=pipeline.id,
                    stage=stage.id,
                    label=stage.label[:255] if stage.label else None,
                    display_order=stage.display_order,
                    probability=Decimal(str(stage.probability))
                    if stage.probability is not None
                    else None,
                    is_closed=stage.is_closed or won,
                    is_won=won,
                )
            )
