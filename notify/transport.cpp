#include "notify/transport.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "notify/signature.hpp"
#include "notify/url_guard.hpp"

namespace streetwise::notify {

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t kMaxResponseBytes = 64 * 1024;

std::once_flag g_curl_init;

struct Job {
  bool is_mail = false;
  HttpPost http;
  MailMessage mail;
  Transport::Done done;
  bool allow_private = true;

  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* rcpt = nullptr;
  curl_mime* mime = nullptr;
  std::string response;
  std::optional<std::chrono::milliseconds> retry_after;
  bool blocked_address = false;
  char errbuf[CURL_ERROR_SIZE] = {};
  SteadyClock::time_point start;

  ~Job() {
    if (mime) curl_mime_free(mime);
    if (headers) curl_slist_free_all(headers);
    if (rcpt) curl_slist_free_all(rcpt);
    if (easy) curl_easy_cleanup(easy);
  }
};

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* job = static_cast<Job*>(user);
  std::size_t len = size * n;
  if (job->response.size() < kMaxResponseBytes) {
    job->response.append(data, std::min(len, kMaxResponseBytes - job->response.size()));
  }
  return len;  // keep reading (and discarding) so the connection can be reused
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* job = static_cast<Job*>(user);
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (std::size_t i = 0; i < kName.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(line[i])) != kName[i]) match = false;
    }
    if (match) {
      auto v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      std::int64_t secs = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
      // Only the delay-seconds form; an HTTP-date is ignored (the schedule applies).
      if (ec == std::errc() && p == v.data() + v.size() && secs >= 0) {
        job->retry_after = std::chrono::seconds(std::min<std::int64_t>(secs, 24 * 3600));
      }
    }
  }
  return size * n;
}

curl_socket_t OnOpenSocket(void* user, curlsocktype, struct curl_sockaddr* address) {
  auto* job = static_cast<Job*>(user);
  if (!job->allow_private && !IsPublicAddress(&address->addr)) {
    job->blocked_address = true;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

std::string RfcDate() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

bool SetUpHttp(Job& job, const TransportOptions& options) {
  CURL* e = job.easy;
  curl_easy_setopt(e, CURLOPT_URL, job.http.url.c_str());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, job.http.body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(job.http.body.size()));
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.http_timeout.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<std::int64_t>(options.http_timeout.count(), 5000)));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "streetwise-webhooks/1");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &job);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &job);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &OnOpenSocket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &job);
  job.headers = curl_slist_append(job.headers, "Content-Type: application/json");
  job.headers = curl_slist_append(job.headers, "Expect:");  // no 100-continue round trip
  for (const auto& [k, v] : job.http.headers) {
    job.headers = curl_slist_append(job.headers, fmt::format("{}: {}", k, v).c_str());
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, job.headers);
  return true;
}

// Mail bodies use CRLF line ends (RFC 5322); libcurl's quoted-printable encoder keeps CRLF as a
// line break and would encode a bare LF as "=0A".
std::string Crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 40);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out.push_back('\r');
    out.push_back(s[i]);
  }
  return out;
}

bool SetUpMail(Job& job, const TransportOptions& options) {
  CURL* e = job.easy;
  const auto& m = job.mail;
  curl_easy_setopt(e, CURLOPT_URL, m.relay_url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  // Credentials are never sent in clear text: with a user in the URL, STARTTLS is required;
  // without, it is used when the relay offers it. smtps:// is TLS from the start.
  bool has_credentials = m.relay_url.find('@') != std::string::npos;
  curl_easy_setopt(e, CURLOPT_USE_SSL, has_credentials ? static_cast<long>(CURLUSESSL_ALL)
                                                       : static_cast<long>(CURLUSESSL_TRY));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.smtp_timeout.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<std::int64_t>(options.smtp_timeout.count(), 10000)));
  std::string from = "<" + m.from + ">";
  curl_easy_setopt(e, CURLOPT_MAIL_FROM, from.c_str());  // libcurl copies strings passed to setopt
  job.rcpt = curl_slist_append(job.rcpt, ("<" + m.to + ">").c_str());
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, job.rcpt);

  job.headers = curl_slist_append(job.headers, ("Date: " + RfcDate()).c_str());
  job.headers = curl_slist_append(job.headers, ("From: " + m.from).c_str());
  job.headers = curl_slist_append(job.headers, ("To: " + m.to).c_str());
  job.headers = curl_slist_append(job.headers, ("Subject: " + EncodeHeaderWord(m.subject)).c_str());
  for (const auto& [k, v] : m.headers) {
    job.headers = curl_slist_append(job.headers, fmt::format("{}: {}", k, v).c_str());
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, job.headers);

  // multipart/alternative: plain text first, HTML last (the preferred rendering), as in libcurl's
  // smtp-mime example.
  job.mime = curl_mime_init(e);
  curl_mime* alt = curl_mime_init(e);
  curl_mimepart* part = curl_mime_addpart(alt);
  std::string text = Crlf(m.text), html = Crlf(m.html);
  curl_mime_data(part, text.data(), text.size());  // copied by libcurl
  curl_mime_type(part, "text/plain; charset=utf-8");
  curl_mime_encoder(part, "quoted-printable");
  part = curl_mime_addpart(alt);
  curl_mime_data(part, html.data(), html.size());
  curl_mime_type(part, "text/html; charset=utf-8");
  curl_mime_encoder(part, "quoted-printable");
  part = curl_mime_addpart(job.mime);
  curl_mime_subparts(part, alt);  // `part` owns `alt` now
  curl_mime_type(part, "multipart/alternative");
  curl_slist* inline_header = curl_slist_append(nullptr, "Content-Disposition: inline");
  curl_mime_headers(part, inline_header, 1);
  curl_easy_setopt(e, CURLOPT_MIMEPOST, job.mime);
  return true;
}

TransferResult Classify(Job& job, CURLcode rc) {
  TransferResult r;
  r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - job.start).count();
  long code = 0;
  curl_easy_getinfo(job.easy, CURLINFO_RESPONSE_CODE, &code);
  if (code > 0) r.code = static_cast<int>(code);
  if (job.is_mail) {
    if (rc == CURLE_OK) {
      r.outcome = AttemptOutcome::kDelivered;
      return r;
    }
    // RFC 5321: 5xx is a permanent refusal, 4xx and network trouble are transient.
    r.outcome = code >= 500 && code < 600 ? AttemptOutcome::kPermanent : AttemptOutcome::kTransient;
    r.error = fmt::format("smtp: {}{}{}", curl_easy_strerror(rc), job.errbuf[0] ? ": " : "", job.errbuf);
    if (code > 0) r.error += fmt::format(" (reply {})", code);
    return r;
  }
  if (rc != CURLE_OK) {
    r.outcome = AttemptOutcome::kTransient;
    if (job.blocked_address) {
      r.error = "the webhook host resolves to a private or loopback address (webhook_allow_private = false)";
    } else {
      r.error = fmt::format("{}{}{}", curl_easy_strerror(rc), job.errbuf[0] ? ": " : "", job.errbuf);
    }
    return r;
  }
  if (code >= 200 && code < 300) {
    r.outcome = AttemptOutcome::kDelivered;
    return r;
  }
  r.outcome = AttemptOutcome::kTransient;
  if (code == 429 || code == 503) r.retry_after = job.retry_after;
  std::string snippet = job.response.substr(0, 200);
  for (auto& c : snippet) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  r.error = code >= 300 && code < 400 ? fmt::format("HTTP {} (redirects are not followed)", code)
                                      : fmt::format("HTTP {}{}{}", code, snippet.empty() ? "" : ": ", snippet);
  return r;
}

}  // namespace

std::string EncodeHeaderWord(std::string_view s) {
  bool plain = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (plain) return std::string(s);
  return "=?UTF-8?B?" + Base64Encode(s) + "?=";
}

struct Transport::Impl {
  struct Worker {
    CURLM* multi = nullptr;
    std::mutex mu;
    std::deque<std::unique_ptr<Job>> incoming;
    std::unordered_map<CURL*, std::unique_ptr<Job>> running;
    std::thread thread;
  };

  TransportOptions options;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> in_flight{0};
  std::once_flag stop_once;

  void Submit(std::unique_ptr<Job> job) {
    in_flight.fetch_add(1);
    if (stopping.load()) {
      Finish(std::move(job), Aborted());
      return;
    }
    auto& w = *workers[next.fetch_add(1) % workers.size()];
    {
      std::lock_guard lock(w.mu);
      w.incoming.push_back(std::move(job));
    }
    curl_multi_wakeup(w.multi);
  }

  static TransferResult Aborted() {
    TransferResult r;
    r.aborted = true;
    r.error = "transport stopped";
    return r;
  }

  void Finish(std::unique_ptr<Job> job, TransferResult r) {
    auto done = std::move(job->done);
    job.reset();
    in_flight.fetch_sub(1);
    if (done) done(std::move(r));
  }

  void Start(Worker& w, std::unique_ptr<Job> job) {
    job->easy = curl_easy_init();
    if (!job->easy) {
      TransferResult r;
      r.error = "curl_easy_init failed";
      Finish(std::move(job), r);
      return;
    }
    CURL* e = job->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");  // never an environment proxy
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, job.get());
    if (job->is_mail) {
      SetUpMail(*job, options);
    } else {
      SetUpHttp(*job, options);
    }
    job->start = SteadyClock::now();
    if (curl_multi_add_handle(w.multi, e) != CURLM_OK) {
      TransferResult r;
      r.error = "curl_multi_add_handle failed";
      Finish(std::move(job), r);
      return;
    }
    w.running.emplace(e, std::move(job));
  }

  void Loop(Worker& w) {
    while (!stopping.load()) {
      std::deque<std::unique_ptr<Job>> batch;
      {
        std::lock_guard lock(w.mu);
        batch.swap(w.incoming);
      }
      for (auto& job : batch) Start(w, std::move(job));
      int running = 0;
      curl_multi_perform(w.multi, &running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(w.multi, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL* e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(w.multi, e);
        auto it = w.running.find(e);
        if (it == w.running.end()) continue;
        auto job = std::move(it->second);
        w.running.erase(it);
        auto result = Classify(*job, rc);
        Finish(std::move(job), std::move(result));
      }
      curl_multi_poll(w.multi, nullptr, 0, 200, nullptr);
    }
    // Stopping: abort what is running and what is queued.
    for (auto& [e, job] : w.running) {
      curl_multi_remove_handle(w.multi, e);
      Finish(std::move(job), Aborted());
    }
    w.running.clear();
    std::deque<std::unique_ptr<Job>> rest;
    {
      std::lock_guard lock(w.mu);
      rest.swap(w.incoming);
    }
    for (auto& job : rest) Finish(std::move(job), Aborted());
  }
};

Transport::Transport(TransportOptions options) : impl_(std::make_unique<Impl>()) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->options = options;
  std::size_t n = std::max<std::size_t>(options.threads, 1);
  for (std::size_t i = 0; i < n; ++i) {
    auto w = std::make_unique<Impl::Worker>();
    w->multi = curl_multi_init();
    curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
    impl_->workers.push_back(std::move(w));
  }
  for (auto& w : impl_->workers) {
    Impl::Worker* raw = w.get();
    w->thread = std::thread([this, raw] { impl_->Loop(*raw); });
  }
}

Transport::~Transport() { Stop(); }

void Transport::Stop() {
  std::call_once(impl_->stop_once, [this] {
    impl_->stopping.store(true);
    for (auto& w : impl_->workers) curl_multi_wakeup(w->multi);
    for (auto& w : impl_->workers) {
      if (w->thread.joinable()) w->thread.join();
      curl_multi_cleanup(w->multi);
      w->multi = nullptr;
    }
  });
}

void Transport::Post(HttpPost request, Done done) {
  auto job = std::make_unique<Job>();
  job->http = std::move(request);
  job->done = std::move(done);
  job->allow_private = impl_->options.allow_private;
  impl_->Submit(std::move(job));
}

void Transport::Send(MailMessage message, Done done) {
  auto job = std::make_unique<Job>();
  job->is_mail = true;
  job->mail = std::move(message);
  job->done = std::move(done);
  impl_->Submit(std::move(job));
}

std::size_t Transport::InFlight() const { return impl_->in_flight.load(); }

}  // namespace streetwise::notify
