// Markdown tables and the number formats shown in them.
#include "apps/text_table.h"

#include <cmath>
#include <iomanip>
#include <sstream>

namespace cnn {

namespace {

std::string cell_text(const std::string& cell) {
  std::string out;
  for (char c : cell) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

void write_row(std::ostringstream& out, const std::vector<std::string>& cells) {
  out << "|";
  for (const std::string& cell : cells) out << " " << cell_text(cell) << " |";
  out << "\n";
}

}  // namespace

std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows) {
  std::ostringstream out;
  write_row(out, header);
  out << "|";
  for (size_t i = 0; i < header.size(); ++i) out << "---|";
  out << "\n";
  for (const std::vector<std::string>& row : rows) write_row(out, row);
  return out.str();
}

std::string format_percent(double fraction) {
  if (!std::isfinite(fraction)) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << fraction * 100 << "%";
  return out.str();
}

std::string format_fixed(double value, int digits) {
  if (!std::isfinite(value)) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

}  // namespace cnn
