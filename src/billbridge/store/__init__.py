"""The state store: organizations, price list, report revisions and, later, export state.

`Store` opens the database (migrating it on first use); `Store.transaction()` gives a unit of
work whose repositories speak in domain objects, so no SQL leaves this package.
"""

from billbridge.store.database import Store
from billbridge.store.unit_of_work import UnitOfWork

__all__ = ["Store", "UnitOfWork"]
