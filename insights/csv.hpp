// RFC 4180 CSV: CRLF line ends, fields quoted when they hold a comma, quote, CR or LF.
// Fields starting with = + - @ are prefixed with ' so a spreadsheet does not run them as formulas
// (CSV injection; OWASP's recommendation).
#pragma once

#include <string>
#include <vector>

namespace streetwise::insights {

using CsvRow = std::vector<std::string>;

std::string ToCsv(const CsvRow& header, const std::vector<CsvRow>& rows);

}  // namespace streetwise::insights
