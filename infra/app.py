"""CDK entry point.

`cdk synth -c stage=<local|dev|staging|prod> [-c imageTag=<git sha>] [-c certificateArn=<ACM ARN>]`
"""

import sys

from aws_cdk import App

from hangar.core.contract import ContractError
from hangar_infra.app_factory import build_stage
from hangar_infra.config import StageConfigError
from hangar_infra.image import ImageSettingError

app = App()
try:
    build_stage(app)
except (ContractError, StageConfigError, ImageSettingError) as error:
    sys.exit(f"error: {error}")
app.synth()
