#include "server/export_import.hpp"

#include <boost/json.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <stdexcept>

#include "core/clock.hpp"
#include "service/org_transfer.hpp"
#include "storage/store.hpp"

namespace streetwise::server {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kHeaderType = "streetwise-export";

// ---- progress -------------------------------------------------------------------------------

// Prints "\r<verb> N records  R records/s" to stderr at most every 0.5 s; Done() ends the line
// (and prints nothing for a run too short to have shown progress).
class Progress {
 public:
  explicit Progress(std::string verb) : verb_(std::move(verb)), start_(Clock::now()), last_(start_) {}
  void Tick(std::uint64_t records) {
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    shown_ = true;
    Print(records, now);
  }
  void Done(std::uint64_t records) {
    if (!shown_) return;
    Print(records, Clock::now());
    std::fputc('\n', stderr);
  }
  double Seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  void Print(std::uint64_t records, Clock::time_point now) {
    double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%s %llu records  %.0f records/s   ", verb_.c_str(), static_cast<unsigned long long>(records),
                 secs > 0 ? static_cast<double>(records) / secs : 0.0);
    std::fflush(stderr);
  }
  std::string verb_;
  Clock::time_point start_, last_;
  bool shown_ = false;
};

// ---- encoding -------------------------------------------------------------------------------

json::value Time(core::TimePoint t) { return json::value(core::FormatRfc3339(t)); }

void PutOpt(json::object& o, std::string_view key, const std::optional<std::string>& v) {
  if (v) o[key] = *v;
}

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object EncodeUser(const core::User& u) {
  json::object o{{"type", "user"}, {"id", u.id}, {"name", u.name}};
  PutOpt(o, "email", u.email);
  o["role"] = core::ToString(u.role);
  o["created_at"] = Time(u.created_at);
  return o;
}

json::object EncodeThread(const service::ExportedThread& x) {
  const core::Thread& t = x.thread;
  json::object o{{"type", "thread"},          {"id", t.id},     {"title", t.title},
                 {"body", t.body},            {"tags", Strings(t.tags)},
                 {"kind", core::ToString(t.kind)}, {"status", core::ToString(t.status)},
                 {"author_id", t.author_id}};
  PutOpt(o, "account", t.deal.account);
  PutOpt(o, "region", t.deal.region);
  PutOpt(o, "product", t.deal.product);
  PutOpt(o, "needed_by", t.deal.needed_by);
  if (t.deal.deal_value) o["deal_value"] = *t.deal.deal_value;
  o["created_at"] = Time(t.created_at);
  o["updated_at"] = Time(t.updated_at);
  o["version"] = t.version;
  o["revision"] = t.revision;
  PutOpt(o, "accepted_answer_id", t.accepted_answer_id);
  if (t.accepted_at) o["accepted_at"] = Time(*t.accepted_at);
  json::array answers;
  for (const auto& a : t.answers) {
    json::array votes;
    if (auto it = x.votes.find(a.id); it != x.votes.end()) {
      for (const auto& v : it->second) votes.push_back(json::object{{"user_id", v.user_id}, {"value", v.value}});
    }
    answers.push_back(json::object{{"id", a.id},
                                   {"body", a.body},
                                   {"author_id", a.author_id},
                                   {"created_at", Time(a.created_at)},
                                   {"score", a.score},
                                   {"votes", std::move(votes)}});
  }
  o["answers"] = std::move(answers);
  json::array comments;
  for (const auto& c : t.comments) {
    json::object co{{"id", c.id}};
    PutOpt(co, "answer_id", c.answer_id);
    co["body"] = c.body;
    co["author_id"] = c.author_id;
    co["created_at"] = Time(c.created_at);
    comments.push_back(std::move(co));
  }
  o["comments"] = std::move(comments);
  json::array revisions;
  for (const auto& r : x.revisions) {
    revisions.push_back(json::object{{"revision", r.revision},
                                     {"title", r.title},
                                     {"body", r.body},
                                     {"tags", Strings(r.tags)},
                                     {"editor_id", r.editor_id},
                                     {"created_at", Time(r.created_at)}});
  }
  o["revisions"] = std::move(revisions);
  return o;
}

// ---- decoding -------------------------------------------------------------------------------

// Thrown for a record that does not have the expected shape; caught per line, never leaves this file.
struct BadRecord : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const json::value& Field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) throw BadRecord("missing '" + std::string(key) + "'");
  return *v;
}

std::string Str(const json::object& o, std::string_view key) {
  const auto& v = Field(o, key);
  if (!v.is_string()) throw BadRecord("'" + std::string(key) + "' must be a string");
  return std::string(v.get_string());
}

std::optional<std::string> OptStr(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) throw BadRecord("'" + std::string(key) + "' must be a string");
  return std::string(v->get_string());
}

std::int64_t Int(const json::object& o, std::string_view key) {
  const auto& v = Field(o, key);
  if (!v.is_int64() && !v.is_uint64()) throw BadRecord("'" + std::string(key) + "' must be an integer");
  try {
    return v.to_number<std::int64_t>();
  } catch (const std::exception&) {
    throw BadRecord("'" + std::string(key) + "' is out of range");
  }
}

core::TimePoint TimeField(const json::object& o, std::string_view key) {
  auto t = core::ParseTimestamp(Str(o, key));
  if (!t) throw BadRecord("'" + std::string(key) + "' must be an RFC 3339 UTC time");
  return *t;
}

const json::array& Arr(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  static const json::array kEmpty;
  if (!v || v->is_null()) return kEmpty;
  if (!v->is_array()) throw BadRecord("'" + std::string(key) + "' must be an array");
  return v->get_array();
}

const json::object& Obj(const json::value& v, std::string_view what) {
  if (!v.is_object()) throw BadRecord(std::string(what) + " must be an object");
  return v.get_object();
}

std::vector<std::string> StrArr(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& v : Arr(o, key)) {
    if (!v.is_string()) throw BadRecord("'" + std::string(key) + "' must hold strings");
    out.emplace_back(v.get_string());
  }
  return out;
}

core::User DecodeUser(const json::object& o) {
  core::User u;
  u.id = Str(o, "id");
  u.name = Str(o, "name");
  u.email = OptStr(o, "email");
  auto role = core::ParseRole(Str(o, "role"));
  if (!role) throw BadRecord("'role' must be member, expert, admin or analyst");
  u.role = *role;
  u.created_at = TimeField(o, "created_at");
  return u;
}

service::ExportedThread DecodeThread(const json::object& o) {
  service::ExportedThread x;
  core::Thread& t = x.thread;
  t.id = Str(o, "id");
  t.title = Str(o, "title");
  t.body = OptStr(o, "body").value_or("");
  t.tags = StrArr(o, "tags");
  auto kind = core::ParseThreadKind(Str(o, "kind"));
  if (!kind) throw BadRecord("'kind' is not a thread kind");
  t.kind = *kind;
  auto status = core::ParseThreadStatus(Str(o, "status"));
  if (!status) throw BadRecord("'status' is not a thread status");
  t.status = *status;
  t.author_id = Str(o, "author_id");
  t.deal.account = OptStr(o, "account");
  t.deal.region = OptStr(o, "region");
  t.deal.product = OptStr(o, "product");
  t.deal.needed_by = OptStr(o, "needed_by");
  if (auto* v = o.if_contains("deal_value"); v && !v->is_null()) {
    if (!v->is_number()) throw BadRecord("'deal_value' must be a number");
    t.deal.deal_value = v->to_number<double>();
  }
  t.created_at = TimeField(o, "created_at");
  t.updated_at = TimeField(o, "updated_at");
  t.version = Int(o, "version");
  t.revision = Int(o, "revision");
  t.accepted_answer_id = OptStr(o, "accepted_answer_id");
  if (o.contains("accepted_at")) t.accepted_at = TimeField(o, "accepted_at");
  for (const auto& av : Arr(o, "answers")) {
    const auto& a = Obj(av, "an answer");
    core::Answer ans;
    ans.id = Str(a, "id");
    ans.thread_id = t.id;
    ans.body = Str(a, "body");
    ans.author_id = Str(a, "author_id");
    ans.created_at = TimeField(a, "created_at");
    ans.score = a.if_contains("score") ? Int(a, "score") : 0;
    std::vector<storage::VoteEntry> votes;
    for (const auto& vv : Arr(a, "votes")) {
      const auto& v = Obj(vv, "a vote");
      votes.push_back(storage::VoteEntry{Str(v, "user_id"), static_cast<int>(Int(v, "value"))});
    }
    if (!votes.empty()) x.votes.emplace(ans.id, std::move(votes));
    t.answers.push_back(std::move(ans));
  }
  for (const auto& cv : Arr(o, "comments")) {
    const auto& c = Obj(cv, "a comment");
    t.comments.push_back(core::Comment{Str(c, "id"), t.id, OptStr(c, "answer_id"), Str(c, "body"), Str(c, "author_id"),
                                       TimeField(c, "created_at")});
  }
  for (const auto& rv : Arr(o, "revisions")) {
    const auto& r = Obj(rv, "a revision");
    x.revisions.push_back(core::Revision{Int(r, "revision"), Str(r, "title"), OptStr(r, "body").value_or(""),
                                         StrArr(r, "tags"), Str(r, "editor_id"), TimeField(r, "created_at")});
  }
  return x;
}

// The parsed object of one line, or BadRecord.
json::object ParseLine(const std::string& line) {
  json::error_code ec;
  auto v = json::parse(line, ec);
  if (ec) throw BadRecord("not JSON: " + ec.message());
  return Obj(v, "a record");
}

bool FsyncPath(const fs::path& p, int flags) {
  int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::unique_ptr<storage::Store> OpenStore(const Config& config) {
  // Acknowledgement-per-write durability is pointless for a batch job: the final Flush() makes the
  // whole run durable.
  auto store = storage::Store::Open(config.data_dir / "db", storage::StoreOptions{storage::Durability::kOs});
  if (!store) {
    std::fprintf(stderr, "streetwise: cannot open %s: %s (stop the server first)\n", config.data_dir.c_str(),
                 store.error().detail.c_str());
    return nullptr;
  }
  return std::move(store).value();
}

void PrintError(std::string_view what, const core::Error& e) {
  std::fprintf(stderr, "streetwise: %s: %s%s%s\n", std::string(what).c_str(), e.detail.c_str(),
               e.cause.empty() ? "" : ": ", e.cause.c_str());
}

}  // namespace

int ExportOrg(const Config& config, const std::string& org_id, const fs::path& out) {
  auto store = OpenStore(config);
  if (!store) return 1;
  core::SystemClock clock;
  service::OrgTransfer transfer(*store, clock);
  auto org = transfer.GetOrg(org_id);
  if (!org) {
    PrintError("cannot export organisation " + org_id, org.error());
    return 1;
  }

  bool to_stdout = out == "-";
  fs::path tmp = out;
  tmp += ".tmp";
  std::ofstream file;
  if (!to_stdout) {
    file.open(tmp, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::fprintf(stderr, "streetwise: cannot write %s\n", tmp.c_str());
      return 1;
    }
  }
  std::ostream& os = to_stdout ? std::cout : file;
  auto write = [&](const json::object& o) { os << json::serialize(o) << '\n'; };

  Progress progress("exported");
  std::uint64_t records = 0, users = 0, threads = 0;
  write(json::object{{"type", kHeaderType},
                     {"version", kExportFormatVersion},
                     {"exported_at", Time(clock.Now())},
                     {"org", json::object{{"id", org->id}, {"name", org->name}, {"created_at", Time(org->created_at)}}}});
  auto st = transfer.ForEachUser(org_id, [&](const core::User& u) {
    write(EncodeUser(u));
    ++users;
    progress.Tick(++records);
    return bool(os);
  });
  if (st) {
    st = transfer.ForEachThread(org_id, [&](const service::ExportedThread& t) {
      write(EncodeThread(t));
      ++threads;
      progress.Tick(++records);
      return bool(os);
    });
  }
  if (!st) {
    PrintError("export failed", st.error());
    if (!to_stdout) fs::remove(tmp);
    return 1;
  }
  write(json::object{{"type", "end"}, {"users", users}, {"threads", threads}});
  os.flush();
  if (!os) {
    std::fprintf(stderr, "streetwise: writing %s failed\n", to_stdout ? "stdout" : tmp.c_str());
    return 1;
  }
  progress.Done(records);
  if (!to_stdout) {
    file.close();
    std::error_code ec;
    if (!FsyncPath(tmp, O_RDONLY) || (fs::rename(tmp, out, ec), ec)) {
      std::fprintf(stderr, "streetwise: cannot finish %s\n", out.c_str());
      return 1;
    }
    FsyncPath(out.parent_path().empty() ? fs::path(".") : out.parent_path(), O_RDONLY | O_DIRECTORY);
  }
  std::fprintf(stderr, "exported organisation %s (%llu users, %llu threads) in %.1f s\n", org_id.c_str(),
               static_cast<unsigned long long>(users), static_cast<unsigned long long>(threads), progress.Seconds());
  return 0;
}

namespace {

// What the checking pass learnt from a valid file.
struct CheckedFile {
  std::string org_name;
  std::vector<core::User> users;
  std::uint64_t threads = 0;
};

// Reads the whole file and checks every record, writing nothing. On failure prints
// "FILE:LINE: problem" and returns nullopt.
std::optional<CheckedFile> CheckFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "streetwise: cannot read %s\n", path.c_str());
    return std::nullopt;
  }
  CheckedFile out;
  std::set<std::string> user_ids;
  auto known = [&](const std::string& id) { return user_ids.count(id) > 0; };
  std::string line;
  std::uint64_t line_no = 0;
  bool ended = false, threads_started = false;
  Progress progress("checked");
  try {
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty()) continue;
      if (ended) throw BadRecord("records after the \"end\" record");
      auto o = ParseLine(line);
      std::string type = Str(o, "type");
      if (line_no == 1) {
        if (type != kHeaderType) throw BadRecord("the first line is not a streetwise-export header");
        if (Int(o, "version") != kExportFormatVersion) {
          throw BadRecord("export format version " + std::to_string(Int(o, "version")) + " is not supported (this build reads " +
                          std::to_string(kExportFormatVersion) + ")");
        }
        out.org_name = Str(Obj(Field(o, "org"), "'org'"), "name");
        continue;
      }
      if (type == "user") {
        if (threads_started) throw BadRecord("users must come before threads");
        auto u = DecodeUser(o);
        if (!user_ids.insert(u.id).second) throw BadRecord("user " + u.id + " appears twice");
        out.users.push_back(std::move(u));
      } else if (type == "thread") {
        threads_started = true;
        auto t = DecodeThread(o);
        if (auto st = service::OrgTransfer::CheckThread(t, known); !st) throw BadRecord(st.error().detail);
        ++out.threads;
      } else if (type == "end") {
        ended = true;
        if (static_cast<std::uint64_t>(Int(o, "users")) != out.users.size() ||
            static_cast<std::uint64_t>(Int(o, "threads")) != out.threads) {
          throw BadRecord("the \"end\" record's counts do not match the file (truncated or edited?)");
        }
      } else {
        throw BadRecord("unknown record type '" + type + "'");
      }
      progress.Tick(line_no);
    }
    if (line_no == 0) throw BadRecord("the file is empty");
    if (!ended) throw BadRecord("no \"end\" record: the file is truncated");
  } catch (const BadRecord& e) {
    std::fprintf(stderr, "\nstreetwise: %s:%llu: %s; nothing was imported\n", path.c_str(),
                 static_cast<unsigned long long>(line_no), e.what());
    return std::nullopt;
  }
  progress.Done(line_no);
  return out;
}

}  // namespace

int ImportOrg(const Config& config, const fs::path& file) {
  auto checked = CheckFile(file);
  if (!checked) return 3;
  auto store = OpenStore(config);
  if (!store) return 1;
  core::SystemClock clock;
  service::OrgTransfer transfer(*store, clock);
  auto org = transfer.CreateOrg(checked->org_name, checked->users);
  if (!org) {
    PrintError("cannot create the organisation", org.error());
    return 1;
  }

  std::ifstream in(file);
  std::string line;
  std::uint64_t line_no = 0, threads = 0;
  Progress progress("imported");
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line.find("\"thread\"") == std::string::npos) continue;  // cheap pre-filter
    service::ExportedThread t;
    try {
      auto o = ParseLine(line);
      if (Str(o, "type") != "thread") continue;
      t = DecodeThread(o);
    } catch (const BadRecord& e) {  // the file changed since it was checked
      std::fprintf(stderr, "\nstreetwise: %s:%llu: %s\n", file.c_str(), static_cast<unsigned long long>(line_no), e.what());
      std::fprintf(stderr, "streetwise: organisation %s is partially imported\n", org->org.id.c_str());
      return 1;
    }
    auto written = transfer.ImportThread(*org, t);
    if (!written) {
      PrintError("import failed at line " + std::to_string(line_no), written.error());
      std::fprintf(stderr, "streetwise: organisation %s is partially imported\n", org->org.id.c_str());
      return 1;
    }
    ++threads;
    progress.Tick(threads);
  }
  if (auto st = store->Flush(); !st) {
    PrintError("flush failed", st.error());
    return 1;
  }
  progress.Done(threads);
  std::fprintf(stderr, "imported organisation %s as %s (%zu users, %llu threads) in %.1f s\n",
               checked->org_name.c_str(), org->org.id.c_str(), checked->users.size(),
               static_cast<unsigned long long>(threads), progress.Seconds());
  json::object result{{"org_id", org->org.id},
                      {"org_name", org->org.name},
                      {"admin_user_id", org->admin.id},
                      {"admin_token", org->token.secret},
                      {"users", checked->users.size()},
                      {"threads", threads}};
  std::printf("%s\n", json::serialize(result).c_str());
  return 0;
}

}  // namespace streetwise::server
