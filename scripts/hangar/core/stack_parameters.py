"""CloudFormation parameters the CDK app declares and `hangar deploy` sets: with the stacks'
outputs, the contract between the two (both sides import the names from here)."""

# "true" once the stack's first create has completed; every resource that can be protected from
# deletion (the database) reads it. CloudFormation cannot delete a protected resource, so a
# protection that held during the first create would turn any failure of that create into
# ROLLBACK_FAILED, the resource left behind under its fixed name and every retry refused
# ("already exists"). The parameter defaults to "false"; `hangar deploy` passes "true" to every
# deploy of a stack that exists and deploys once more right after the stack's first create.
DELETION_PROTECTION = "DeletionProtection"
