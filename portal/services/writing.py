"""Starting a write so that what was read is what gets written.

Every UPDATE of a ticket checks its ``row_version`` (optimistic locking). Staff see a conflict
as a message; a reporter adding information, or the system returning tickets to a queue, has no
form to come back to, so those writes take the ticket's row lock before reading it and never
meet a conflict.
"""

from portal.extensions import db
from portal.models import Ticket


def begin_write() -> None:
    """Make sure the session's transaction has begun, holding the write lock on SQLite.

    pysqlite begins a transaction only before an INSERT, UPDATE or DELETE: reads before that run
    outside any transaction, and a SAVEPOINT sent first opens a transaction of its own, which
    releasing commits on the spot. An explicit BEGIN IMMEDIATE (as SQLAlchemy's pysqlite notes
    advise) keeps one transaction, and takes SQLite's single write lock before anything is
    read, so no other write lands between the read and the write. On PostgreSQL the
    transaction has begun with the first statement, and rows are locked one by one
    (``lock_tickets``).
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        dbapi_connection = connection.connection.dbapi_connection
        if not dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_tickets(*tickets: Ticket) -> None:
    """Read ``tickets`` again under a write lock (SELECT … FOR UPDATE on PostgreSQL), so that
    their ``row_version`` is current and stays so until the commit. Call before changing them:
    changes not yet flushed are discarded."""
    begin_write()
    for ticket in tickets:
        db.session.refresh(ticket, with_for_update=True)
