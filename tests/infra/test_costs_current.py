"""docs/costs.md is what `make costs` computes from the checkout's synthesized stages today."""

from cdk_synth import Synthesized

from hangar.deploy import costs
from hangar.deploy.stacks import AWS_STAGES

# The synthesized variant each AWS stage is priced from (HTTPS or not costs the same).
VARIANT_OF_STAGE = {"dev": "dev", "staging": "staging", "prod": "prod+https"}


def test_docs_costs_md_matches_the_synthesized_stages(
    checkout_synthesized: dict[str, Synthesized],
) -> None:
    assert tuple(VARIANT_OF_STAGE) == AWS_STAGES
    computed = {
        stage: costs.stage_costs(
            costs.load_templates(checkout_synthesized[variant].template_files())
        )
        for stage, variant in VARIANT_OF_STAGE.items()
    }

    assert costs.render(computed) == costs.COSTS_FILE.read_text(), (
        "docs/costs.md is stale: run `make costs` and commit it"
    )
