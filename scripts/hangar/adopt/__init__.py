"""Bringing Hangar into a team's existing Django repository: `hangar init`."""
