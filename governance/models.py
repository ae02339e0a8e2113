"""Models of the governance app, gathered from its sub-packages so Django finds them."""

from governance.access.models import ApiToken, Team, User
from governance.trail.models import Checkpoint, Event, MerkleNode, SigningKey

__all__ = ["ApiToken", "Checkpoint", "Event", "MerkleNode", "SigningKey", "Team", "User"]
