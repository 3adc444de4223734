"""SQLAlchemy Core tables, repositories (one module per aggregate: accounts, tracking, inbound_events,
identities, purchases, connections, billing; rows.py holds the column helpers they share), the unit of work,
report queries and migrations. Repositories take domain objects in and give domain objects out; rows never leave
the persistence package."""
