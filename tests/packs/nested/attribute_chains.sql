-- Attribute accesses `x.attr` whose object is a plain name, with both names (the parent
-- edge's field tells object from attribute).
SELECT
  a.file_id,
  a.cst_id AS attribute_id,
  obj.identifier AS object_name,
  a.attr_name
FROM (
  SELECT n.file_id, n.node.cst_id AS cst_id, n.node['attrs']['attr'] AS attr_name
  FROM (SELECT file_id, unnest(nodes) AS node FROM libcst_files) AS n
  WHERE n.node['kind'] = 'libcst.Attribute'
) AS a
JOIN edge_rows AS e ON e.file_id = a.file_id AND e.src = a.cst_id AND e.field = 'value'
JOIN name_nodes AS obj ON obj.file_id = e.file_id AND obj.cst_id = e.dst
