// Multi-row upserts through SOCI: rows of values (NULL, integer, double, text) bound to the
// placeholders of store_schema.h's upsert statement, a bounded number of rows per statement.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "apps/store_schema.h"

namespace soci {
class session;
}

namespace cnn {

using SqlValue = std::variant<std::monostate, long long, double, std::string>;  // monostate: NULL
using SqlRow = std::vector<SqlValue>;

// A finite double, or NULL for NaN/inf (MySQL has no such DOUBLE; SQLite would store NaN as NULL).
SqlValue finite_or_null(double value);

// Writes `rows` (each one value per table column, in order) in statements of at most 100 rows.
// The caller holds the transaction.
void upsert_rows(soci::session& sql, const UpsertTable& table, StoreBackend backend,
                 const std::vector<SqlRow>& rows);

}  // namespace cnn
