"""A neighbourhood is read from the graph tables a level at a time (memory_svc.graph_sql):
the edges ending at a node as well as those starting there, so ``graph_edges`` needs the
target side indexed as the primary key indexes the source side."""

SQL = "CREATE INDEX IF NOT EXISTS graph_edges_by_target ON graph_edges (org_id, target);"
