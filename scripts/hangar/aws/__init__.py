"""The AWS account side: GitHub OIDC deploy roles, the CloudFormation execution policy, IAM
evaluation of recorded calls."""
