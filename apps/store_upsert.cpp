// Multi-row upserts (see store_upsert.h).
#include "apps/store_upsert.h"

#include <soci/soci.h>

#include <cmath>
#include <deque>

namespace cnn {
namespace {

// 100 rows of up to 10 columns stay under SQLite's 32766 placeholders and MySQL's packet size.
constexpr size_t kRowsPerStatement = 100;

// Stable storage for bound values: SOCI keeps references until the statement runs.
struct Bindings {
  std::deque<long long> integers;
  std::deque<double> doubles;
  std::deque<std::string> texts;
  std::deque<soci::indicator> indicators;
};

void bind(soci::statement& statement, Bindings& bindings, const SqlValue& value) {
  if (std::holds_alternative<long long>(value)) {
    statement.exchange(soci::use(bindings.integers.emplace_back(std::get<long long>(value))));
  } else if (std::holds_alternative<double>(value)) {
    statement.exchange(soci::use(bindings.doubles.emplace_back(std::get<double>(value))));
  } else if (std::holds_alternative<std::string>(value)) {
    statement.exchange(soci::use(bindings.texts.emplace_back(std::get<std::string>(value))));
  } else {  // NULL: a double with a null indicator binds on every backend
    statement.exchange(soci::use(bindings.doubles.emplace_back(0.0),
                                 bindings.indicators.emplace_back(soci::i_null)));
  }
}

}  // namespace

SqlValue finite_or_null(double value) {
  return std::isfinite(value) ? SqlValue(value) : SqlValue(std::monostate{});
}

void upsert_rows(soci::session& sql, const UpsertTable& table, StoreBackend backend,
                 const std::vector<SqlRow>& rows) {
  for (size_t begin = 0; begin < rows.size(); begin += kRowsPerStatement) {
    const size_t count = std::min(kRowsPerStatement, rows.size() - begin);
    Bindings bindings;
    soci::statement statement(sql);
    for (size_t r = begin; r < begin + count; ++r)
      for (const SqlValue& value : rows[r]) bind(statement, bindings, value);
    statement.alloc();
    statement.prepare(upsert_statement(table, count, backend));
    statement.define_and_bind();
    statement.execute(true);
  }
}

}  // namespace cnn
