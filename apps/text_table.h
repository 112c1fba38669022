// Tables as cnnlab prints them in the terminal and in reports: GitHub markdown, one row a
// line, so the same text reads well in a console and renders in report.md.
#pragma once

#include <string>
#include <vector>

namespace cnn {

// "| a | b |\n|---|---|\n| 1 | 2 |\n". A '|' inside a cell is escaped as "\|" and a newline
// becomes a space, so a cell never breaks the table.
std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows);

std::string format_percent(double fraction);         // 0.6367 -> "63.67%"; "n/a" if not finite
std::string format_fixed(double value, int digits);  // "n/a" if not finite

}  // namespace cnn
