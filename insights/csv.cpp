#include "insights/csv.hpp"

namespace streetwise::insights {

namespace {

void AppendField(std::string& out, const std::string& value) {
  std::string v = value;
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '@' ||
                     (v[0] == '-' && v.find_first_not_of("-0123456789.eE") != std::string::npos))) {
    v.insert(v.begin(), '\'');
  }
  if (v.find_first_of(",\"\r\n") == std::string::npos) {
    out += v;
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void AppendRow(std::string& out, const CsvRow& row) {
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendField(out, row[i]);
  }
  out += "\r\n";
}

}  // namespace

std::string ToCsv(const CsvRow& header, const std::vector<CsvRow>& rows) {
  std::string out;
  AppendRow(out, header);
  for (const auto& r : rows) AppendRow(out, r);
  return out;
}

}  // namespace streetwise::insights
