"""The one CDK CLI driver and the scoped CDK bootstrap template."""
