"""SQLAlchemy Core tables, repositories, the unit of work, report queries and migrations."""
