"""The contract's costs-file is what `make costs` computes from the checkout's synthesized stages
today; a contract naming none still gets every AWS stage priced."""

from hangar.core.contract import contract
from hangar.core.stages import AWS_STAGES
from hangar.deploy import costs
from hangar_infra.synthesis import Synthesized

# The synthesized variant each AWS stage is priced from (HTTPS or not costs the same).
VARIANT_OF_STAGE = {"dev": "dev", "staging": "staging", "prod": "prod+https"}


def test_the_committed_estimate_matches_the_synthesized_stages(
    project_stages: dict[str, Synthesized],
) -> None:
    assert tuple(VARIANT_OF_STAGE) == AWS_STAGES
    computed = {
        stage: costs.stage_costs(costs.load_templates(project_stages[variant].template_files()))
        for stage, variant in VARIANT_OF_STAGE.items()
    }

    for stage, lines in computed.items():
        assert sum(line.monthly for line in lines) > 0, f"{stage} is not priced"
    if contract().costs_file is None:
        return  # nothing committed to compare
    assert costs.render(computed) == costs.costs_file().read_text(), (
        f"{contract().costs_file} is stale: run `make costs` and commit it"
    )
