"""The feature store: entities and feature views, point-in-time joins, an online store the endpoint reads.

offline_join.py   the point-in-time-correct join (training sets)
views.py          reading a view's source; checking views against their data (`mlops validate`)
online_store.py   the SQLite online store: latest values per entity, with event times
materialize.py    incremental materialization of views into the online store
lookup.py         online lookups (stale = missing) and filling request rows from the store
feast_export.py   an equivalent Feast repository, as text
"""
