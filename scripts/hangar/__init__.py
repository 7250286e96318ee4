"""The hangar CLI (`make help` lists its commands). Packages, each importing only those below it
(`make lint` checks this): bench > devloop > deploy > aws > cdk > localstack > provision > core."""
