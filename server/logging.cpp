#include "server/logging.hpp"

#include <boost/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace streetwise::server {
namespace {

constexpr const char* kTime = R"("ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l")";

// The log message as the body of a JSON string (escaped, without the quotes).
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string quoted = boost::json::serialize(boost::json::string(std::string_view(msg.payload.data(), msg.payload.size())));
    dest.append(quoted.data() + 1, quoted.data() + quoted.size() - 1);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonEscapedMessage>(); }
};

std::shared_ptr<spdlog::logger> g_access;

}  // namespace

void SetUpLogging(const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto app = std::make_shared<spdlog::logger>("streetwise", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<JsonEscapedMessage>('*').set_pattern(std::string("{") + kTime + R"(,"msg":"%*"})");
  app->set_formatter(std::move(formatter));
  spdlog::set_default_logger(app);

  // A formatter belongs to a sink, not a logger: the access log needs a sink of its own.
  g_access = std::make_shared<spdlog::logger>("access", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  g_access->set_formatter(std::make_unique<spdlog::pattern_formatter>(std::string("{") + kTime + ",%v}",
                                                                      spdlog::pattern_time_type::utc));
  auto lvl = spdlog::level::from_str(level);
  app->set_level(lvl);
  g_access->set_level(lvl);
}

bool AccessLogEnabled() { return g_access && g_access->should_log(spdlog::level::info); }

void AccessLog(std::string_view fields) {
  if (!g_access) return;
  g_access->info("{}", fields);  // the pattern supplies the braces around ts/level plus these fields
}

}  // namespace streetwise::server
