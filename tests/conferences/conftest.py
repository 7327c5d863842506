from tests.standins.nonassociations import _non_associations_server, non_associations, non_associations_down

__all__ = ["_non_associations_server", "non_associations", "non_associations_down"]
