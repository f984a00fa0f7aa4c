# Pinned packages: the lane installs exactly these (pip, in a fresh venv, Python 3.11):
#   pyarrow==26.0.1 substrait==0.37.1 substrait-protobuf==0.106.0 substrait-extensions==0.106.0 protobuf==6.33.6
"""The Acero lane: rulec's Substrait plans run in Arrow Acero (`pyarrow.substrait.run_query`),
and their rows are compared with the products rulec built from the same plans.

usage: python acero.py PLANS_DIR DATA_DIR PRODUCTS_DIR EXPECTED_FILE REPORT_FILE

  PLANS_DIR     qNN.substrait, one plan per query
  DATA_DIR      <table>.parquet, one file per table the plans read (NamedTable names)
  PRODUCTS_DIR  <qNN>/ product directories: *.parquet directly in them or in Hive partition
                subdirectories (names starting with `_` or `.` are skipped)
  EXPECTED_FILE what the lane must keep: `qNN<TAB>equal|differs|cannot-run<TAB>reason` lines,
                `#` comments. The lane fails if fewer queries compare equal than are listed
                `equal` there, or if a query listed `equal` does not.
  REPORT_FILE   written in the same format, for this run; the plans as adapted for Acero are
                left beside it, in acero-adapted/ (qNN-decimal.substrait, qNN-fp64.substrait)

Packages: see the pins above. `substrait` (python-substrait) is among them because
pyarrow.substrait imports `substrait.proto` whenever a package named `substrait` is importable,
and substrait-protobuf alone (which provides the `substrait.plan_pb2` classes used here) has none;
python-substrait 0.37.1 pins substrait-protobuf 0.106.0.

What Acero 26 (Substrait 0.44) implements is narrower than what rulec writes, so every plan is
first adapted by meaning-preserving rewrites, each one a small function below (the list is
ADAPTATIONS). Decimal arithmetic is broken in Acero (it crashes or overflows precision 38), so a
query whose adapted plan fails or differs with decimals is run once more with decimals as fp64
(`decimals_as_fp64`) and compared with a relative tolerance; the report says when that was needed.
Each query runs in a child process (`--child`) with a timeout, so a crash is a reported failure.
"""

import collections
import dataclasses
import datetime
import decimal
import math
import pathlib
import shutil
import signal
import subprocess
import sys

from google.protobuf import text_format, unknown_fields
from substrait import algebra_pb2, plan_pb2, type_pb2

TIMEOUT_S = 120
REL_TOL = 1e-6  # for approximate numbers (floats, and decimals once Acero ran them as fp64)
STATUSES = ("equal", "differs", "cannot-run")

STANDARD_URI = "https://github.com/substrait-io/substrait/blob/main/extensions/functions_{}.yaml"
RULEC_URI = "https://rulec.dev/extensions/functions_rulec.yaml"

# ---------------------------------------------------------------------------------------------
# Protobuf wire format. Acero reads fields that substrait-protobuf no longer declares: the plan's
# extension URIs (Plan.extension_uris = 1), a function's URI anchor
# (ExtensionFunction.extension_uri_reference = 1), FetchRel.offset = 3 / count = 4 and
# Grouping.grouping_expressions = 1. The protobuf runtime keeps them as unknown fields and
# writes them back on serialization; these helpers read and write them as raw bytes.


def varint(n):
    """The protobuf base-128 varint encoding of a non-negative int (or a negative int64)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3 | 0) + varint(value)


def field_bytes(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def read_varint(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def wire_fields(buf):
    """The top-level fields of a serialized message: (number, value, raw bytes) in order; value
    is an int for varints and the payload for length-delimited fields."""
    fields, pos = [], 0
    while pos < len(buf):
        start = pos
        tag, pos = read_varint(buf, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, pos = read_varint(buf, pos)
        elif wire_type == 2:
            length, pos = read_varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire_type in (1, 5):
            length = 8 if wire_type == 1 else 4
            value, pos = buf[pos : pos + length], pos + length
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        fields.append((number, value, buf[start:pos]))
    return fields


def unknown_varint(msg, number):
    """The value of unknown varint field `number` of msg, or None."""
    for field in unknown_fields.UnknownFieldSet(msg):
        if field.field_number == number and field.wire_type == 0:
            return field.data
    return None


def has_unknown(msg, number):
    return any(f.field_number == number for f in unknown_fields.UnknownFieldSet(msg))


# ---------------------------------------------------------------------------------------------
# A plan being adapted: the decoded Plan, its legacy URI table (kept outside the message while
# rewriting, written back by `encode`), and a tally of what was rewritten or could not be.


@dataclasses.dataclass
class Adapting:
    plan: plan_pb2.Plan
    uris: dict  # URI anchor -> URI (Plan.extension_uris, field 1)
    applied: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    notes: list = dataclasses.field(default_factory=list)  # what could not be adapted, and why

    def functions(self):
        """function anchor -> ExtensionFunction"""
        return {
            d.extension_function.function_anchor: d.extension_function
            for d in self.plan.extensions
            if d.HasField("extension_function")
        }

    def name(self, anchor):
        """A function's name without its signature (`add:i64_i64` -> `add`)."""
        function = self.functions().get(anchor)
        return function.name.split(":")[0] if function else None

    def uri_of(self, function):
        return self.uris.get(unknown_varint(function, 1))

    def declare(self, yaml, name):
        """The anchor of function `name` (a compound name) declared under Acero's URI for
        functions_<yaml>.yaml, declaring it (and the URI) if the plan does not. Declarations
        made here carry the URI only: Acero reads nothing else."""
        uri = STANDARD_URI.format(yaml)
        base = name.split(":")[0]
        for anchor, function in self.functions().items():
            if function.name.split(":")[0] == base and self.uri_of(function) == uri:
                return anchor
        uri_anchor = next((a for a, u in self.uris.items() if u == uri), None)
        if uri_anchor is None:
            uri_anchor = max(self.uris, default=0) + 1
            self.uris[uri_anchor] = uri
        anchor = max(self.functions(), default=0) + 1
        function = self.plan.extensions.add().extension_function
        function.function_anchor = anchor
        function.name = name
        function.MergeFromString(field_varint(1, uri_anchor))
        return anchor

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)


def decode(data):
    """Parse a plan, taking its legacy URI declarations (Plan field 1) out of the message."""
    kept, uris = [], {}
    for number, value, raw in wire_fields(data):
        if number == 1:
            uri = {n: v for n, v, _ in wire_fields(value)}
            uris[uri.get(1, 0)] = uri.get(2, b"").decode()
        else:
            kept.append(raw)
    return Adapting(plan_pb2.Plan.FromString(b"".join(kept)), uris)


def encode(adapting):
    """Serialize a plan with its legacy URI declarations (Plan field 1) put back."""
    uris = b"".join(
        field_bytes(1, field_varint(1, anchor) + field_bytes(2, uri.encode()))
        for anchor, uri in adapting.uris.items()
    )
    return adapting.plan.SerializeToString() + uris


def check_round_trip(data):
    """decode/encode must keep every field, the ones substrait-protobuf does not know included
    (URIs, URI anchors, deprecated grouping expressions and fetch counts)."""

    def text(buf):
        return text_format.MessageToString(plan_pb2.Plan.FromString(buf), print_unknown_fields=True)

    if text(encode(decode(data))) != text(data):
        raise AssertionError("decoding and re-encoding the plan changed it")


# ---------------------------------------------------------------------------------------------
# Walking plans and building small pieces of them.


def messages(msg):
    """Every message in the tree under msg (msg included), parents before children."""
    yield msg
    for field, value in msg.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        for item in value if field.is_repeated else [value]:
            yield from messages(item)


def of_type(root, cls):
    return [m for m in messages(root) if isinstance(m, cls)]


def rels_bottom_up(root):
    """Every relation under root, each after all the relations below it (subqueries included),
    so a rewrite that restructures a relation sees its inputs already rewritten."""
    return list(reversed(of_type(root, algebra_pb2.Rel)))


def expressions_bottom_up(root):
    """Every expression under root, each after the expressions below it, so a rewrite that
    replaces an expression copies its already rewritten operands."""
    return list(reversed(of_type(root, algebra_pb2.Expression)))


def rel_body(rel):
    return getattr(rel, rel.WhichOneof("rel_type"))


def emit_of(rel):
    body = rel_body(rel)
    if body.HasField("common") and body.common.HasField("emit"):
        return list(body.common.emit.output_mapping)
    return None


LEFT_ONLY_JOINS = (algebra_pb2.JoinRel.JOIN_TYPE_LEFT_SEMI, algebra_pb2.JoinRel.JOIN_TYPE_LEFT_ANTI)


def width(rel):
    """The number of columns a relation outputs."""
    emit = emit_of(rel)
    if emit is not None:
        return len(emit)
    return direct_width(rel)


def direct_width(rel):
    """The number of columns a relation computes before its emit."""
    kind, body = rel.WhichOneof("rel_type"), rel_body(rel)
    if kind == "read":
        if body.HasField("projection"):
            return len(body.projection.select.struct_items)
        return len(body.base_schema.struct.types)
    if kind in ("filter", "sort", "fetch"):
        return width(body.input)
    if kind == "project":
        return width(body.input) + len(body.expressions)
    if kind == "join":
        if body.type in LEFT_ONLY_JOINS:
            return width(body.left)
        return width(body.left) + width(body.right)
    if kind == "cross":
        return width(body.left) + width(body.right)
    if kind == "aggregate":
        return len(grouping_columns(body)) + len(body.measures)
    raise NotImplementedError(f"width of a {kind} relation")


def grouping_columns(agg):
    """The grouping key expressions of an AggregateRel (one grouping set, as Acero requires)."""
    if agg.grouping_expressions:
        return list(agg.grouping_expressions)
    if agg.groupings:  # only the deprecated Grouping.grouping_expressions (field 1)
        return [
            algebra_pb2.Expression.FromString(f.data)
            for f in unknown_fields.UnknownFieldSet(agg.groupings[0])
            if f.field_number == 1
        ]
    return []


def field_ref(index):
    expr = algebra_pb2.Expression()
    expr.selection.direct_reference.struct_field.field = index
    expr.selection.root_reference.SetInParent()
    return expr


def field_index(expr):
    """The column an expression reads if it is a plain field reference of the input, else None."""
    if expr.WhichOneof("rex_type") != "selection":
        return None
    sel = expr.selection
    if not sel.HasField("root_reference") or not sel.direct_reference.HasField("struct_field"):
        return None
    if sel.direct_reference.struct_field.HasField("child"):
        return None
    return sel.direct_reference.struct_field.field


def call(anchor, *args, output_type=None):
    expr = algebra_pb2.Expression()
    fn = expr.scalar_function
    fn.function_reference = anchor
    for arg in args:
        fn.arguments.add().value.CopyFrom(arg)
    if output_type is not None:
        fn.output_type.CopyFrom(output_type)
    return expr


def bool_type():
    t = type_pb2.Type()
    t.bool.nullability = type_pb2.Type.NULLABILITY_NULLABLE
    return t


def conjuncts(expr, adapting):
    """The operands of nested `and` calls (expr itself if it is not one)."""
    fn = expr.scalar_function
    if expr.WhichOneof("rex_type") == "scalar_function" and adapting.name(fn.function_reference) == "and":
        return [c for a in fn.arguments for c in conjuncts(a.value, adapting)]
    return [expr]


def conjunction(exprs, adapting):
    """`and` of exprs, as binary calls (Acero maps `and` to the binary and_kleene)."""
    anchor = adapting.declare("boolean", "and:bool")
    result = exprs[0]
    for expr in exprs[1:]:
        result = call(anchor, result, expr, output_type=bool_type())
    return result


def join_operands(expr, name, left_width, adapting):
    """(left column, right column) if expr calls function `name` on a field of the join's left
    input and a field of its right input (in either order), else None."""
    if expr.WhichOneof("rex_type") != "scalar_function":
        return None
    fn = expr.scalar_function
    if adapting.name(fn.function_reference) != name or len(fn.arguments) != 2:
        return None
    a, b = (field_index(arg.value) for arg in fn.arguments)
    if a is None or b is None:
        return None
    if a < left_width <= b:
        return a, b
    if b < left_width <= a:
        return b, a
    return None


def unique_column_sets(rel):
    """Sets of output columns on which the relation's rows are provably unique (an aggregate's
    grouping keys, carried through filters, sorts, fetches, projections and emits)."""
    kind, body = rel.WhichOneof("rel_type"), rel_body(rel)
    if kind == "aggregate" and len(body.groupings) <= 1:
        sets, sources = [frozenset(range(len(grouping_columns(body))))], None
    elif kind in ("filter", "sort", "fetch"):
        sets, sources = unique_column_sets(body.input), None
    elif kind == "project":
        n = width(body.input)
        sets = unique_column_sets(body.input)
        sources = list(range(n)) + [field_index(e) for e in body.expressions]
    else:
        return []
    emit = emit_of(rel)
    if sources is None:
        sources = list(range(direct_width(rel)))
    if emit is not None:
        sources = [sources[i] for i in emit]
    position = {}
    for out, source in enumerate(sources):
        if source is not None:
            position.setdefault(source, out)
    return [frozenset(position[c] for c in s) for s in sets if all(c in position for c in s)]


def yields_one_row(rel):
    """Whether a relation always yields exactly one row: an aggregate without grouping keys,
    under any projections."""
    kind, body = rel.WhichOneof("rel_type"), rel_body(rel)
    if kind == "project":
        return yields_one_row(body.input)
    return kind == "aggregate" and len(body.groupings) <= 1 and not grouping_columns(body)


def is_correlated(rel):
    return any(
        s.HasField("outer_reference") for s in of_type(rel, algebra_pb2.Expression.FieldReference)
    )


# ---------------------------------------------------------------------------------------------
# Types, derived bottom-up (what a rewrite that adds a column must declare).


def literal_type(lit):
    kind = lit.WhichOneof("literal_type")
    t = type_pb2.Type()
    if kind == "null":
        t.CopyFrom(lit.null)
    elif kind == "decimal":
        t.decimal.precision, t.decimal.scale = lit.decimal.precision, lit.decimal.scale
    elif kind in ("boolean", "i8", "i16", "i32", "i64", "fp32", "fp64", "string", "date"):
        getattr(t, {"boolean": "bool"}.get(kind, kind)).SetInParent()
    else:
        raise NotImplementedError(f"type of a {kind} literal")
    return t


def expr_type(expr, inputs):
    kind = expr.WhichOneof("rex_type")
    if kind == "selection":
        return inputs[field_index(expr)]
    if kind == "literal":
        return literal_type(expr.literal)
    if kind == "scalar_function":
        return expr.scalar_function.output_type
    if kind == "cast":
        return expr.cast.type
    if kind == "if_then":
        return expr_type(expr.if_then.ifs[0].then, inputs)
    if kind == "singular_or_list":
        return bool_type()
    if kind == "subquery" and expr.subquery.HasField("scalar"):
        return rel_types(expr.subquery.scalar.input)[0]
    raise NotImplementedError(f"type of a {kind} expression")


def rel_types(rel):
    """The output column types of a relation."""
    kind, body = rel.WhichOneof("rel_type"), rel_body(rel)
    if kind == "read":
        types = list(body.base_schema.struct.types)
        if body.HasField("projection"):
            types = [types[i.field] for i in body.projection.select.struct_items]
    elif kind in ("filter", "sort", "fetch"):
        types = rel_types(body.input)
    elif kind == "project":
        types = rel_types(body.input)
        types += [expr_type(e, types) for e in body.expressions]
    elif kind == "join":
        types = rel_types(body.left)
        if body.type not in LEFT_ONLY_JOINS:
            types += rel_types(body.right)
    elif kind == "aggregate":
        inputs = rel_types(body.input)
        types = [expr_type(e, inputs) for e in grouping_columns(body)]
        types += [m.measure.output_type for m in body.measures]
    else:
        raise NotImplementedError(f"types of a {kind} relation")
    emit = emit_of(rel)
    return [types[i] for i in emit] if emit is not None else types


def nullable(t):
    t = type_pb2.Type.FromString(t.SerializeToString())
    kind = t.WhichOneof("kind")
    getattr(t, kind).nullability = type_pb2.Type.NULLABILITY_NULLABLE
    return t


# ---------------------------------------------------------------------------------------------
# Adaptations to what Acero's Substrait consumer implements. Each one keeps the plan's meaning.


def read_projection_to_emit(adapting):
    """Acero does not implement ReadRel.projection (NotImplemented: substrait::ReadRel::projection):
    select the same columns with the relation's emit instead."""
    for read in of_type(adapting.plan, algebra_pb2.ReadRel):
        if not read.HasField("projection"):
            continue
        items = read.projection.select.struct_items
        if any(item.HasField("child") for item in items):
            adapting.note("ReadRel.projection selects nested fields")
            continue
        columns = [item.field for item in items]
        if read.common.HasField("emit"):
            columns = [columns[i] for i in read.common.emit.output_mapping]
        read.ClearField("projection")
        read.common.emit.ClearField("output_mapping")
        read.common.emit.output_mapping.extend(columns)
        adapting.applied["ReadRel projection -> emit"] += 1


def fetch_count_from_expr(adapting):
    """Acero reads only FetchRel's deprecated int64 `offset` (3) and `count` (4), and a missing
    count as 0 rows: write them from constant `offset_expr` / `count_expr` when absent."""
    for fetch in of_type(adapting.plan, algebra_pb2.FetchRel):
        raw = b""
        for expr_field, number in (("offset_expr", 3), ("count_expr", 4)):
            if has_unknown(fetch, number) or not fetch.HasField(expr_field):
                continue
            lit = getattr(fetch, expr_field).literal
            kind = lit.WhichOneof("literal_type")
            if kind not in ("i8", "i16", "i32", "i64"):
                adapting.note(f"FetchRel.{expr_field} is not an integer literal")
                continue
            raw += field_varint(number, getattr(lit, kind))
        if not has_unknown(fetch, 4) and not fetch.HasField("count_expr"):
            adapting.note("FetchRel without a count (Acero would return no rows)")
        if raw:
            fetch.MergeFromString(raw)
            adapting.applied["FetchRel count/offset"] += 1


def scalar_subqueries_to_joins(adapting):
    """Acero has no subquery expressions. An uncorrelated scalar subquery that always yields one
    row (an aggregate without grouping keys) in a filter condition becomes an inner join of the
    filter's input with it on a constant key; the condition reads the joined column, and an emit
    keeps the input's columns."""
    for rel in rels_bottom_up(adapting.plan):
        if rel.WhichOneof("rel_type") != "filter":
            continue
        filt = rel.filter
        while True:
            sub = next(
                (e for e in expressions_outside_subqueries(filt.condition) if e.WhichOneof("rex_type") == "subquery"),
                None,
            )
            if sub is None:
                break
            if not sub.subquery.HasField("scalar"):
                adapting.note(f"{sub.subquery.WhichOneof('subquery_type')} subquery in a filter")
                break
            inner = sub.subquery.scalar.input
            if is_correlated(inner) or not yields_one_row(inner):
                adapting.note("scalar subquery that is correlated or not a global aggregate")
                break
            n = width(filt.input)
            if emit_of(rel) is None:
                filt.common.emit.output_mapping.extend(range(n))
            join = algebra_pb2.Rel()
            join.join.type = algebra_pb2.JoinRel.JOIN_TYPE_INNER
            with_constant_key(join.join.left, filt.input)
            with_constant_key(join.join.right, inner)
            equal = adapting.declare("comparison", "equal:any_any")
            join.join.expression.CopyFrom(
                call(equal, field_ref(n), field_ref(n + 1 + width(inner)), output_type=bool_type())
            )
            sub.CopyFrom(field_ref(n + 1))
            filt.input.CopyFrom(join)
            adapting.applied["scalar subquery -> join"] += 1


def expressions_outside_subqueries(msg):
    """The expressions in msg (msg included), not descending into relations (subqueries)."""
    if isinstance(msg, algebra_pb2.Expression):
        yield msg
    for field, value in msg.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        for item in value if field.is_repeated else [value]:
            if not isinstance(item, algebra_pb2.Rel):
                yield from expressions_outside_subqueries(item)


def with_constant_key(target, rel):
    """target := a projection of rel adding one column, the constant 0 (a join key)."""
    target.project.input.CopyFrom(rel)
    target.project.expressions.add().literal.i32 = 0


def not_equal_joins_to_min_max(adapting):
    """A semi or anti join on `l.k = r.k AND l.s <> r.s` (q21's "another supplier of the same
    order") has a non-key condition Acero cannot join on. Among the right rows with key l.k,
    one has s <> l.s exactly when min(s) <> l.s or max(s) <> l.s (NULLs compare as unknown
    either way), so it is a join with R grouped by k (unique on k, so each left row meets at most
    one group) and a filter, keeping the left columns:
      semi: inner join on k, filter  min <> l.s OR max <> l.s
      anti: left join on k,  filter  NOT coalesce(min <> l.s OR max <> l.s, false)"""
    for rel in rels_bottom_up(adapting.plan):
        if rel.WhichOneof("rel_type") != "join" or rel.join.type not in LEFT_ONLY_JOINS:
            continue
        join = rel.join
        n_left = width(join.left)
        parts = conjuncts(join.expression, adapting)
        if len(parts) != 2:
            continue
        keys = [join_operands(p, "equal", n_left, adapting) for p in parts]
        others = [join_operands(p, "not_equal", n_left, adapting) for p in parts]
        if keys[0] and others[1]:
            (lk, rk), (ls, rs) = keys[0], others[1]
        elif keys[1] and others[0]:
            (lk, rk), (ls, rs) = keys[1], others[0]
        else:
            continue
        rk, rs = rk - n_left, rs - n_left
        try:
            s_type = nullable(rel_types(join.right)[rs])
        except NotImplementedError as e:
            adapting.note(f"semi/anti join on key and <>: {e}")
            continue
        semi = join.type == algebra_pb2.JoinRel.JOIN_TYPE_LEFT_SEMI

        new = algebra_pb2.Rel()
        new.filter.common.emit.output_mapping.extend(emit_of(rel) or range(n_left))
        grouped = algebra_pb2.Rel()
        group_by(grouped.aggregate, join.right, rk, [("min", rs, s_type), ("max", rs, s_type)], adapting)
        j = new.filter.input.join
        j.type = algebra_pb2.JoinRel.JOIN_TYPE_INNER if semi else algebra_pb2.JoinRel.JOIN_TYPE_LEFT
        j.left.CopyFrom(join.left)
        j.right.CopyFrom(grouped)
        equal = adapting.declare("comparison", "equal:any_any")
        j.expression.CopyFrom(call(equal, field_ref(lk), field_ref(n_left), output_type=bool_type()))
        differs = adapting.declare("comparison", "not_equal:any_any")
        either = call(
            adapting.declare("boolean", "or:bool"),
            call(differs, field_ref(ls), field_ref(n_left + 1), output_type=bool_type()),
            call(differs, field_ref(ls), field_ref(n_left + 2), output_type=bool_type()),
            output_type=bool_type(),
        )
        if not semi:
            false = algebra_pb2.Expression()
            false.literal.boolean = False
            coalesce = adapting.declare("comparison", "coalesce:any")
            either = call(
                adapting.declare("boolean", "not:bool"),
                call(coalesce, either, false, output_type=bool_type()),
                output_type=bool_type(),
            )
        new.filter.condition.CopyFrom(either)
        rel.CopyFrom(new)
        adapting.applied[f"{'semi' if semi else 'anti'} join on key and <> -> min/max join"] += 1


def group_by(agg, rel, key, measures, adapting):
    """agg := rel grouped by column `key`, with measures (name, column, output type)."""
    agg.input.CopyFrom(rel)
    agg.grouping_expressions.add().CopyFrom(field_ref(key))
    grouping = agg.groupings.add()
    grouping.expression_references.append(0)
    grouping.MergeFromString(field_bytes(1, field_ref(key).SerializeToString()))  # what Acero reads
    for name, column, output_type in measures:
        fn = agg.measures.add().measure
        fn.function_reference = adapting.declare("arithmetic", f"{name}:any")
        fn.arguments.add().value.CopyFrom(field_ref(column))
        fn.output_type.CopyFrom(output_type)
        fn.phase = algebra_pb2.AGGREGATION_PHASE_INITIAL_TO_RESULT
        fn.invocation = algebra_pb2.AggregateFunction.AGGREGATION_INVOCATION_ALL


def split_join_conditions(adapting):
    """Acero joins on exactly one `equal(left field, right field)`: no other condition. So:
    - the key's operands are put in (left, right) order;
    - an inner join on a conjunction joins on one key equality, with a filter on the others
      above it (carrying the join's emit);
    - a semi join on a conjunction whose right input is provably unique on the columns its key
      equalities bind (an aggregate's grouping keys) is that inner join and filter, keeping the
      left columns: each left row then meets at most one right row.
    Other joins on a conjunction (anti, outer, semi without that uniqueness) are left as they
    are, with a note."""
    for rel in rels_bottom_up(adapting.plan):
        if rel.WhichOneof("rel_type") != "join" or not rel.join.HasField("expression"):
            continue
        join = rel.join
        if join.HasField("post_join_filter"):
            adapting.note("JoinRel.post_join_filter (ignored by Acero)")
        n_left = width(join.left)
        parts = conjuncts(join.expression, adapting)
        keys = [join_operands(p, "equal", n_left, adapting) for p in parts]
        if not any(keys):
            adapting.note("join condition with no equality of a left and a right field")
            continue
        first = next(i for i, k in enumerate(keys) if k)
        key = call(
            parts[first].scalar_function.function_reference,
            field_ref(keys[first][0]),
            field_ref(keys[first][1]),
            output_type=parts[first].scalar_function.output_type,
        )
        rest = parts[:first] + parts[first + 1 :]
        if not rest:
            if key.SerializeToString() != join.expression.SerializeToString():
                join.expression.CopyFrom(key)
                adapting.applied["join key order"] += 1
            continue
        kind = algebra_pb2.JoinRel.JoinType.Name(join.type)
        if join.type == algebra_pb2.JoinRel.JOIN_TYPE_INNER:
            emit = emit_of(rel)
        elif join.type == algebra_pb2.JoinRel.JOIN_TYPE_LEFT_SEMI:
            bound = {right - n_left for _, right in filter(None, keys)}
            if not any(s <= bound for s in unique_column_sets(join.right)):
                adapting.note(f"{kind} on a conjunction, right input not unique on its key columns")
                continue
            emit = emit_of(rel) or list(range(n_left))
        else:
            adapting.note(f"{kind} on a conjunction")
            continue
        new = algebra_pb2.Rel()
        new.filter.condition.CopyFrom(conjunction(rest, adapting))
        if emit is not None:
            new.filter.common.emit.output_mapping.extend(emit)
        inner = new.filter.input.join
        inner.CopyFrom(join)
        inner.ClearField("common")
        inner.type = algebra_pb2.JoinRel.JOIN_TYPE_INNER
        inner.expression.CopyFrom(key)
        rel.CopyFrom(new)
        adapting.applied[f"{kind} on a conjunction -> inner join + filter"] += 1


BOOLEAN_FUNCTIONS = {"not", "and", "or", "xor", "like", "equal", "not_equal", "lt", "lte", "gt", "gte",
                     "is_null", "is_not_null", "starts_with", "ends_with", "contains"}


def boolean_output_types(adapting):
    """A scalar function's output type is required, and Acero converts it (an unset one fails with
    "conversion to arrow::DataType from Substrait type"). DataFusion leaves it unset on `like`
    and `not`: give the functions whose result is boolean by definition a nullable boolean."""
    for fn in of_type(adapting.plan, algebra_pb2.Expression.ScalarFunction):
        if fn.HasField("output_type"):
            continue
        name = adapting.name(fn.function_reference)
        if name not in BOOLEAN_FUNCTIONS:
            adapting.note(f"{name} without an output type")
            continue
        fn.output_type.CopyFrom(bool_type())
        adapting.applied[f"output type of {name}"] += 1


def binary_boolean_chains(adapting):
    """rulec writes a chain of ANDs (ORs) as one variadic `and` (`or`), as the standard
    declares them; Acero maps them to and_kleene / or_kleene, which take two arguments. A call
    with more becomes a left-deep tree of binary calls (the same Kleene logic)."""
    for expr in expressions_bottom_up(adapting.plan):
        if expr.WhichOneof("rex_type") != "scalar_function":
            continue
        fn = expr.scalar_function
        if adapting.name(fn.function_reference) not in ("and", "or") or len(fn.arguments) <= 2:
            continue
        operands = [algebra_pb2.Expression() for _ in fn.arguments]
        for operand, argument in zip(operands, fn.arguments):
            operand.CopyFrom(argument.value)
        anchor, output_type = fn.function_reference, fn.output_type
        result = operands[0]
        for operand in operands[1:]:
            result = call(anchor, result, operand, output_type=output_type)
        expr.CopyFrom(result)
        adapting.applied["variadic and/or -> binary calls"] += 1


def semi_join_emit(adapting):
    """Acero gives a semi or anti join the schema left + right columns while it outputs the left
    columns only, so a relation above that appends columns (a ProjectRel) numbers them wrongly
    ("FieldPath(2): string" in q04). An emit of exactly the left columns, which changes nothing
    in Substrait's terms, makes Acero's schema right."""
    for join in of_type(adapting.plan, algebra_pb2.JoinRel):
        if join.type in LEFT_ONLY_JOINS and not join.common.HasField("emit"):
            join.common.emit.output_mapping.extend(range(width(join.left)))
            adapting.applied["semi/anti join emit"] += 1


def like_to_string_predicates(adapting):
    """Acero maps no `like`. A pattern with `%` only at its ends is one of its string predicates:
    'x' -> equal, 'x%' -> starts_with, '%x' -> ends_with, '%x%' -> contains (with x free of
    `%`, `_` and `\\`, and no escape character given)."""
    for expr in expressions_bottom_up(adapting.plan):
        if expr.WhichOneof("rex_type") != "scalar_function":
            continue
        fn = expr.scalar_function
        if adapting.name(fn.function_reference) != "like":
            continue
        args = [a.value for a in fn.arguments]
        escape_ok = len(args) == 2 or (len(args) == 3 and args[2].literal.HasField("null"))
        if not (2 <= len(args) <= 3 and escape_ok and args[1].literal.HasField("string")):
            adapting.note("like with a non-literal pattern or an escape character")
            continue
        pattern = args[1].literal.string
        core = pattern.strip("%")
        if not core or any(c in core for c in "%_\\"):
            adapting.note(f"like pattern {pattern!r} has no Acero equivalent")
            continue
        starts, ends = not pattern.startswith("%"), not pattern.endswith("%")
        yaml, name = {
            (True, True): ("comparison", "equal:any_any"),
            (True, False): ("string", "starts_with:str_str"),
            (False, True): ("string", "ends_with:str_str"),
            (False, False): ("string", "contains:str_str"),
        }[starts, ends]
        pattern_arg = algebra_pb2.Expression()
        pattern_arg.literal.string = core
        expr.CopyFrom(call(adapting.declare(yaml, name), args[0], pattern_arg, output_type=fn.output_type))
        adapting.applied[f"like -> {name.split(':')[0]}"] += 1


def hoist_aggregate_arguments(adapting):
    """Acero's aggregate arguments must be field references ("Expected an aggregate call ... to
    have a direct reference"): compute the other arguments in a ProjectRel below the aggregate,
    appended after the input's columns (so grouping references are unchanged)."""
    for rel in rels_bottom_up(adapting.plan):
        if rel.WhichOneof("rel_type") != "aggregate":
            continue
        agg = rel.aggregate
        args = [
            arg
            for measure in agg.measures
            for arg in measure.measure.arguments
            if arg.HasField("value") and field_index(arg.value) is None
        ]
        if not args:
            continue
        n = width(agg.input)
        project = algebra_pb2.Rel()
        project.project.input.CopyFrom(agg.input)
        for k, arg in enumerate(args):
            project.project.expressions.add().CopyFrom(arg.value)
            arg.value.CopyFrom(field_ref(n + k))
        agg.input.CopyFrom(project)
        adapting.applied["aggregate arguments -> ProjectRel"] += len(args)


def decimal_uri_to_arithmetic(adapting):
    """Acero declares decimal arithmetic (and sum/avg/min/max of decimals) under
    functions_arithmetic.yaml and knows no functions_arithmetic_decimal.yaml."""
    source, target = STANDARD_URI.format("arithmetic_decimal"), STANDARD_URI.format("arithmetic")
    for anchor, uri in list(adapting.uris.items()):
        if uri == source:
            adapting.uris[anchor] = target
            adapting.applied["functions_arithmetic_decimal URI -> functions_arithmetic"] += 1


ADAPTATIONS = [  # in order
    read_projection_to_emit,
    fetch_count_from_expr,
    scalar_subqueries_to_joins,
    not_equal_joins_to_min_max,
    binary_boolean_chains,
    split_join_conditions,
    semi_join_emit,
    boolean_output_types,
    like_to_string_predicates,
    hoist_aggregate_arguments,
    decimal_uri_to_arithmetic,
]


def adapt(data):
    """The plan rewritten for Acero, with what was rewritten and what could not be."""
    check_round_trip(data)
    adapting = decode(data)
    for step in ADAPTATIONS:
        step(adapting)
    return adapting


# ---------------------------------------------------------------------------------------------
# The decimal step: not an adaptation (it changes numbers' representation), a named fallback.


def has_decimals(adapting):
    return any(t.HasField("decimal") for t in of_type(adapting.plan, type_pb2.Type))


def decimals_as_fp64(adapting):
    """Acero's decimal arithmetic is broken (q06 crashes in aggregate::MakeOutputSchema; others
    fail with "Decimal precision out of range [1, 38]: 39"): make every decimal type and literal
    fp64. The table provider then casts decimal columns to float64 (it casts to the plan's
    schema), and the lane compares numbers with a relative tolerance."""
    for t in of_type(adapting.plan, type_pb2.Type):
        if t.HasField("decimal"):
            nullability = t.decimal.nullability
            t.ClearField("decimal")
            t.fp64.nullability = nullability
    for lit in of_type(adapting.plan, algebra_pb2.Expression.Literal):
        if lit.HasField("decimal"):
            d = lit.decimal
            value = decimal.Decimal(int.from_bytes(d.value, "little", signed=True)).scaleb(-d.scale)
            lit.fp64 = float(value)


# ---------------------------------------------------------------------------------------------
# Running a plan in Acero, in a child process.


def child(plan_path, data_dir, out_path):
    """`acero.py --child PLAN DATA_DIR OUT`: run one plan, write its rows as an Arrow IPC file."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyarrow.substrait

    provider_errors = []

    def table_provider(names, schema):
        """DATA_DIR/<table>.parquet, its columns in the plan's order and cast to its types."""
        try:
            table = pq.read_table(pathlib.Path(data_dir) / f"{names[-1]}.parquet", columns=schema.names)
            return table.cast(schema)
        except Exception as e:  # pyarrow would only print it and report "Invalid NamedTable Source"
            provider_errors.append(f"table provider for {names}: {type(e).__name__}: {e}")
            raise

    plan = pathlib.Path(plan_path).read_bytes()
    try:
        reader = pyarrow.substrait.run_query(pa.py_buffer(plan), table_provider=table_provider, use_threads=False)
        table = reader.read_all()
    except Exception as e:
        message = provider_errors[0] if provider_errors else f"{type(e).__name__}: {e}"
        message = " ".join(message.split())  # one line (messages may quote a plan fragment)
        print(message if len(message) <= 300 else message[:300] + " ...", file=sys.stderr)
        sys.exit(1)
    with pa.OSFile(out_path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


@dataclasses.dataclass
class Run:
    table: object = None  # pyarrow.Table, or None if the plan could not run
    error: str = ""


def run_in_child(plan_bytes, data_dir, workdir, name):
    """Run a plan in a child process with a timeout; a crash or a timeout is an error."""
    import pyarrow as pa

    plan_path, out_path = workdir / f"{name}.substrait", workdir / f"{name}.arrow"
    plan_path.write_bytes(plan_bytes)
    out_path.unlink(missing_ok=True)
    argv = [sys.executable, str(pathlib.Path(__file__).resolve()), "--child", str(plan_path), str(data_dir), str(out_path)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Run(error=f"timed out after {TIMEOUT_S} s")
    if proc.returncode < 0:
        return Run(error=f"crashed ({signal.Signals(-proc.returncode).name})")
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return Run(error=lines[-1] if lines else f"exit status {proc.returncode}")
    with pa.OSFile(str(out_path), "rb") as source:  # read into memory: the file goes next
        table = pa.ipc.open_file(source).read_all()
    out_path.unlink()
    return Run(table=table)


# ---------------------------------------------------------------------------------------------
# Comparing rows with the product's.


def read_product(directory):
    """A product's rows: its *.parquet files, directly in it or in Hive partitions (the partition
    columns come last), skipping names starting with `_` or `.`."""
    import pyarrow.dataset as ds

    files = [
        p
        for p in sorted(directory.rglob("*.parquet"))
        if not any(part.startswith(("_", ".")) for part in p.relative_to(directory).parts)
    ]
    if not files:
        return None
    return ds.dataset(files, format="parquet", partitioning="hive", partition_base_dir=str(directory)).to_table()


def normalize(value):
    """A cell as a comparable value: numbers as int or float, dates as ISO strings."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str, bytes)):
        return value
    if isinstance(value, (float, decimal.Decimal)):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return repr(value)


def sort_key(row):
    def cell(v):
        if v is None:
            return (0, 0)
        if isinstance(v, (int, float)):
            return (1, v)
        return (2, str(v))

    return tuple(cell(v) for v in row)


def cells_equal(a, b, abs_tol):
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return False
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=abs_tol)
    return a == b


def column_tolerance(field):
    """Absolute tolerance for a product column: one unit in the last place of a decimal (the
    product rounded or truncated there: q01's avg_disc 0.0477586... is 0.047758), else none."""
    import pyarrow as pa

    if pa.types.is_decimal(field.type):
        return 10.0 ** -field.type.scale
    return 0.0


def table_rows(table):
    columns = [[normalize(v) for v in column.to_pylist()] for column in table.columns]
    return list(zip(*columns))


def compare(result, product, root_names):
    """None if result and product hold the same rows (as multisets), else what differs."""
    if product.num_columns != result.num_columns:
        return f"{result.num_columns} columns, the product {product.num_columns}"
    if sorted(product.column_names) == sorted(root_names) and product.column_names != list(root_names):
        product = product.select(list(root_names))  # Hive partition columns come last
    if result.num_rows != product.num_rows:
        return f"{result.num_rows} rows, the product {product.num_rows}"
    tolerances = [column_tolerance(f) for f in product.schema]
    rows = [sorted(table_rows(t), key=sort_key) for t in (result, product)]
    for i, (got, want) in enumerate(zip(*rows)):
        for c, (a, b) in enumerate(zip(got, want)):
            if not cells_equal(a, b, tolerances[c]):
                return f"row {i} (sorted) column {c} ({product.column_names[c]}): {a!r}, the product {b!r}"
    return None


# ---------------------------------------------------------------------------------------------
# One query, and the lane.


@dataclasses.dataclass
class Outcome:
    status: str
    reason: str
    applied: collections.Counter


def root_names(plan):
    return [n for r in plan.relations if r.HasField("root") for n in r.root.names]


def run_query(query, plan_path, data_dir, products_dir, workdir):
    """Adapt, run and compare one query: with decimals, and if that is not equal, once more with
    decimals as fp64."""
    try:
        adapting = adapt(plan_path.read_bytes())
    except Exception as e:
        return Outcome("cannot-run", f"adapting the plan failed: {type(e).__name__}: {e}", collections.Counter())
    product = read_product(products_dir / query)
    if product is None:
        return Outcome("differs", f"no product files under {products_dir / query}", adapting.applied)
    names = root_names(adapting.plan)

    def attempt(adapted, tag):
        run = run_in_child(encode(adapted), data_dir, workdir, f"{query}-{tag}")
        if run.table is None:
            return "cannot-run", run.error
        diff = compare(run.table, product, names)
        rows = run.table.num_rows
        return ("differs", diff) if diff else ("equal", f"{rows} row{'' if rows == 1 else 's'}")

    def outcome(status, reason):
        if status == "cannot-run" and adapting.notes:
            reason += f" [not adapted: {'; '.join(adapting.notes)}]"
        return Outcome(status, reason, adapting.applied)

    status, reason = attempt(adapting, "decimal")
    if not has_decimals(adapting):
        return outcome(status, reason)
    if status == "equal":
        return outcome(status, f"{reason}; decimals kept")
    fp64 = decode(encode(adapting))
    decimals_as_fp64(fp64)
    status2, reason2 = attempt(fp64, "fp64")
    if (status2, reason2) == (status, reason):
        return outcome(status, f"{reason} (with decimals and with decimals as fp64)")
    return outcome(status2, f"{reason2}; decimals as fp64 (with decimals: {status}, {reason})")


def read_statuses(path):
    """{query: (status, reason)} from a report or expected file."""
    if not pathlib.Path(path).is_file():
        sys.exit(f"no expected file {path}")
    statuses = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        query, status, *reason = line.split("\t", 2)
        if status not in STATUSES:
            sys.exit(f"{path}: unknown status {status!r} for {query}")
        statuses[query] = (status, reason[0] if reason else "")
    return statuses


def main(plans_dir, data_dir, products_dir, expected_path, report_path):
    expected = read_statuses(expected_path)
    plans = sorted(pathlib.Path(plans_dir).glob("*.substrait"))
    if not plans:
        sys.exit(f"no plans in {plans_dir}")
    # The plans as adapted (qNN-decimal.substrait, qNN-fp64.substrait) stay here, to debug with.
    workdir = pathlib.Path(report_path).parent / "acero-adapted"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    outcomes = {}
    for plan in plans:
        query = plan.stem
        outcome = run_query(query, plan, pathlib.Path(data_dir), pathlib.Path(products_dir), workdir)
        outcomes[query] = outcome
        rewrites = ", ".join(f"{k}×{v}" for k, v in sorted(outcome.applied.items())) or "none"
        print(f"{query}  {outcome.status:<10}  {outcome.reason}\n      rewrites: {rewrites}", flush=True)
    report = "".join(f"{q}\t{o.status}\t{' '.join(o.reason.split())}\n" for q, o in outcomes.items())
    pathlib.Path(report_path).write_text(report)

    expected_equal = {q for q, (s, _) in expected.items() if s == "equal"}
    equal = {q for q, o in outcomes.items() if o.status == "equal"}
    counts = collections.Counter(o.status for o in outcomes.values())
    print(f"\n{len(outcomes)} queries: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES))
    print(f"expected equal: {len(expected_equal)} ({expected_path})")
    regressed = sorted(expected_equal - equal)
    for q in regressed:
        print(f"REGRESSION {q}: listed equal, now {outcomes[q].status if q in outcomes else 'missing'}")
    improved = sorted(equal - expected_equal)
    if improved:
        print(f"now equal, not listed so: {', '.join(improved)}: copy {report_path} over {expected_path}")
    if regressed or len(equal) < len(expected_equal):
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    elif len(sys.argv) == 6:
        main(*sys.argv[1:6])
    else:
        sys.exit(__doc__)
