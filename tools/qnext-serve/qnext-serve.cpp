//===- qnext-serve.cpp - an OpenAI-compatible server for an artifact ------===//
//
// qnext-serve model.qnx [--host 127.0.0.1] [--port 8080] [--slots 4]
//   [--max-context 4096] [--threads N] [--prefill-chunk 256]
//   [--batch-tokens 512] [--queue 64] [--cache-mb 1024] [--cache-every 512]
//   [--model-name NAME]
// serves POST /v1/completions and /v1/chat/completions (whole or streamed as
// server-sent events), GET /v1/models, /health (liveness), /ready
// (readiness) and /metrics over
// cpp-httplib. Requests run together on the session's slots (Engine.cpp, Step.cpp:
// continuous batching on qnext_session_prefill_batch and
// qnext_session_decode_batch). SIGINT or SIGTERM
// stops taking requests (503), lets those in flight finish for --grace
// seconds, cancels the rest and exits 0.
//
//===----------------------------------------------------------------------===//

#include "Api.h"
#include "Engine.h"

#include "ModelText.h"
#include "RuntimeTool.h"

#include "qnext/Runtime.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <pthread.h>
#include <thread>

using qnext::tool::fail;
using namespace qnext::serve;

namespace {

void answer(httplib::Response &res, int status, const json &body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void answer(httplib::Response &res, const ApiError &error) {
  answer(res, error.status, error.body());
}

/// "data: {...}\n\n".
bool sendEvent(httplib::DataSink &sink, const std::string &data) {
  std::string event = "data: " + data + "\n\n";
  return sink.write(event.data(), event.size());
}

/// Serves one completion request (chat or not) on `engine`.
void complete(const httplib::Request &req, httplib::Response &res, bool chat,
              const ServerInfo &info, Engine &engine) {
  ApiError error;
  std::optional<Completion> c = readCompletion(req.body, chat, info, error);
  if (!c)
    return answer(res, error);
  auto job = std::make_shared<Job>();
  job->prompt = c->prompt;
  job->params = c->params;
  job->maxTokens = c->maxTokens;
  job->stops = c->stops;
  job->logitBias = c->logitBias;
  job->thinkingBudget = c->thinkingBudget;
  job->turnEnd = c->turnEnd;
  job->ignoreEos = c->ignoreEos;
  if (Engine::Refusal refusal = engine.submit(job); refusal != Engine::Refusal::None) {
    ApiError busy;
    const bool full = refusal == Engine::Refusal::Full;
    busy.status = full ? 429 : 503;
    busy.type = full ? "rate_limit_error" : "server_error";
    busy.code = full ? "queue_full" : "stopping";
    busy.message = full ? "every slot is busy and the queue is full: try again shortly"
                        : "the server is stopping";
    if (full)
      res.set_header("Retry-After", "1");
    return answer(res, busy);
  }
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(c->prefixHash));
  res.set_header("X-Qnext-Prefix-Hash", hash);
  static std::atomic<int64_t> counter{0};
  ResponseHead head{std::string(chat ? "chatcmpl-" : "cmpl-") + std::to_string(++counter),
                    info.modelName, int64_t(std::time(nullptr)), chat};
  const int64_t promptTokens = int64_t(c->prompt.size());
  if (!c->stream) {
    std::string text;
    Job::Events events;
    do {
      events = job->wait();
      text += events.text;
    } while (!events.finished);
    if (!events.error.empty()) {
      ApiError failed;
      failed.status = 500;
      failed.type = "server_error";
      failed.message = events.error;
      return answer(res, failed);
    }
    const TokenIds ids{c->prompt, job->sampled()};
    ReplyParser::Delta reply;
    if (chat) {
      ReplyParser parser(c->inReasoning, c->parseTools);
      reply = parser.push(text);
      reply.append(parser.finish());
    } else {
      reply.content = text;
    }
    return answer(res, 200,
                  wholeResponse(head, reply, events.finishReason,
                                usage(promptTokens, job->completionTokens(),
                                      job->cachedTokens(), job->reasoningTokens()),
                                c->returnTokenIds ? &ids : nullptr));
  }
  const bool includeUsage = c->includeUsage;
  // A chat's text is split into reasoning, content and tool calls as it
  // comes; a completion's is content.
  auto parser = std::make_shared<ReplyParser>(c->inReasoning, c->parseTools);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [job, head, includeUsage, promptTokens, parser, first = true,
       calls = size_t(0)](size_t, httplib::DataSink &sink) mutable {
        Job::Events events = job->wait();
        ReplyParser::Delta delta;
        if (head.chat) {
          delta = parser->push(events.text);
          if (events.finished)
            delta.append(parser->finish());
        } else {
          delta.content = events.text;
        }
        if ((!delta.empty() || first) &&
            !sendEvent(sink, chunk(head, delta, first, "", calls).dump())) {
          job->cancel(); // the client is gone
          return false;
        }
        first = false;
        calls += delta.toolCalls.size();
        if (!events.finished)
          return true;
        bool sent = true;
        if (!events.error.empty()) {
          ApiError failed;
          failed.status = 500;
          failed.type = "server_error";
          failed.message = events.error;
          sent = sendEvent(sink, failed.body().dump());
        } else {
          const std::string reason =
              calls && events.finishReason == "stop" ? "tool_calls" : events.finishReason;
          sent = sendEvent(sink, chunk(head, {}, false, reason).dump());
          if (sent && includeUsage)
            sent = sendEvent(sink, usageChunk(head, usage(promptTokens,
                                                          job->completionTokens(),
                                                          job->cachedTokens(),
                                                          job->reasoningTokens()))
                                       .dump());
        }
        if (sent)
          sendEvent(sink, "[DONE]");
        sink.done();
        return true;
      },
      [job](bool success) {
        if (!success)
          job->cancel();
      });
}

std::string metrics(Engine &engine) {
  Engine::Counters c = engine.counters();
  std::string out;
  auto metric = [&](const char *name, const char *type, const char *help, int64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type +
           "\n" + name + " " + std::to_string(value) + "\n";
  };
  metric("qnext_requests_total", "counter", "Completion requests accepted.", c.requests);
  metric("qnext_prompt_tokens_total", "counter", "Prompt tokens of accepted requests.",
         c.promptTokens);
  metric("qnext_completion_tokens_total", "counter", "Tokens generated.", c.completionTokens);
  metric("qnext_requests_waiting", "gauge", "Requests waiting for a slot.", c.waiting);
  metric("qnext_slots_busy", "gauge", "Slots running a request.", c.busySlots);
  metric("qnext_slots", "gauge", "Slots of the session.", c.slots);
  metric("qnext_prefix_cache_lookups_total", "counter",
         "Requests that looked for a cached prefix of their prompt.", c.cacheLookups);
  metric("qnext_prefix_cache_hits_total", "counter",
         "Requests that resumed from a cached prefix.", c.cacheHits);
  metric("qnext_prefix_cache_tokens_total", "counter",
         "Prompt tokens resumed from the cache, not prefilled.", c.cachedTokens);
  metric("qnext_prefix_cache_entries", "gauge", "Snapshots in the prefix cache.",
         c.cacheEntries);
  metric("qnext_prefix_cache_bytes", "gauge", "Bytes of the prefix cache's snapshots.",
         c.cacheBytes);
  metric("qnext_prefix_cache_budget_bytes", "gauge", "The prefix cache's budget (--cache-mb).",
         c.cacheBudget);
  metric("qnext_speculative_steps_total", "counter",
         "Speculative steps (--speculate): verify calls of the MTP head's drafts.",
         c.speculativeSteps);
  metric("qnext_speculative_drafts_total", "counter", "Drafts verified.", c.draftsProposed);
  metric("qnext_speculative_drafts_accepted_total", "counter", "Drafts kept.",
         c.draftsAccepted);
  return out;
}

int serveMain(int argc, char **argv) {
  qnext::tool::toolName() = "qnext-serve";
  std::string artifact, host = "127.0.0.1", modelName;
  int port = 8080;
  int64_t slots = 4, maxContext = 4096, prefillChunk = 256, queueSize = 64, batchTokens = 512;
  int64_t cacheMB = 1024, cacheEvery = 512, speculate = 0;
  double grace = 10;
  int threads = 0;
  CLI::App app{"qnext-serve: an OpenAI-compatible server for a model artifact, its "
               "requests batched on the session's slots",
               "qnext-serve"};
  app.add_option("artifact", artifact, "The model artifact")->required()->type_name("<model.qnx>");
  app.add_option("--host", host, "Address to listen on (default 127.0.0.1)");
  app.add_option("--port", port, "Port (default 8080; 0: any free port, printed)");
  app.add_option("--slots", slots, "Requests run at once (default 4)");
  app.add_option("--max-context", maxContext,
                 "Tokens a request may hold, prompt and reply (default 4096)");
  app.add_option("--threads", threads, "Threads of the model's code (default: all cores)");
  app.add_option("--prefill-chunk", prefillChunk,
                 "Prompt tokens of one request a step prefills at most (default 256)");
  app.add_option("--batch-tokens", batchTokens,
                 "Prompt tokens of all the joining requests a step prefills at most, in "
                 "one call with the running requests' decode steps (artifacts with the "
                 "batched prefill entry; default 512)");
  app.add_option("--queue", queueSize,
                 "Requests waiting for a slot at most; beyond, 429 (default 64)");
  app.add_option("--cache-mb", cacheMB,
                 "The prefix cache's budget in MiB: snapshots of finished requests (and of "
                 "long prompts) that a request beginning with the same tokens resumes "
                 "from; 0: no cache (default 1024)");
  app.add_option("--cache-every", cacheEvery,
                 "Also snapshot a long prompt every N tokens (default 512; 0: only when a "
                 "request ends)");
  app.add_option("--speculate", speculate,
                 "Speculative decoding with the artifact's MTP head: up to K drafts a "
                 "step, verified in one call, when one request decodes alone (several "
                 "share batched steps); the tokens are distributed as without (greedy: "
                 "the same). Default 0: off")
      ->type_name("K");
  app.add_option("--grace", grace,
                 "On SIGINT or SIGTERM: seconds the requests in flight may take to finish "
                 "(new ones get 503, /ready 503) before the rest are cancelled (default 10)");
  app.add_option("--model-name", modelName,
                 "The model's name in the API (default: the artifact's file name without "
                 ".qnx)");
  // SIGINT and SIGTERM go to one thread, which stops the server; blocked
  // before any thread starts (the runtime's, a GPU driver's), so that every
  // thread inherits the mask.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  if (auto rc = qnext::tool::parse(app, argc, argv))
    return *rc;
  if (slots < 1 || slots > 4096 || maxContext < 2 || prefillChunk < 1 || batchTokens < 1 ||
      queueSize < 0 ||
      port < 0 || port > 65535 || cacheMB < 0 || cacheMB > (int64_t(1) << 30) ||
      cacheEvery < 0 || !(grace >= 0) || speculate < 0 || speculate > 16)
    return fail("--slots must be in [1, 4096], --max-context at least 2, --prefill-chunk "
                "and --batch-tokens at least 1, --queue not negative, --port in [0, 65535], --cache-mb, "
                "--cache-every and --grace not negative, --speculate in [0, 16]");
  if (modelName.empty()) {
    modelName = artifact.substr(artifact.find_last_of('/') + 1);
    if (modelName.size() > 4 && modelName.compare(modelName.size() - 4, 4, ".qnx") == 0)
      modelName.resize(modelName.size() - 4);
  }

  char *error = nullptr;
  std::unique_ptr<qnext_model, void (*)(qnext_model *)> model(
      qnext_model_open(artifact.c_str(), &error), qnext_model_close);
  if (!model) {
    std::string message = error ? error : "cannot open the artifact";
    qnext_free_error(error);
    return fail(message);
  }
  qnext::tool::sayCodeVariant(model.get());
  if (threads > 0)
    qnext_model_set_threads(model.get(), threads);
  std::string why;
  qnext::tool::ModelText text;
  if (!qnext::tool::readModelText(model.get(), artifact, "a server needs one", text, why))
    return fail(why);
  const qnext::Tokenizer &tokenizer = *text.tokenizer;
  ServerInfo info;
  info.modelName = modelName;
  info.maxContext = maxContext;
  info.vocab = qnext_model_vocab_size(model.get());
  info.tokenizer = &tokenizer;
  info.chatTemplate = text.chatTemplate;
  info.defaults = text.defaults;
  EngineOptions options;
  options.stopIds = text.stopIds;
  options.slots = slots;
  options.maxContext = maxContext;
  options.prefillChunk = prefillChunk;
  options.batchTokens = batchTokens;
  options.queue = queueSize;
  options.sampledVocab = tokenizer.size();
  options.cacheBytes = cacheMB << 20;
  options.cacheEvery = cacheEvery;
  options.speculate = speculate;
  if (speculate && !qnext_model_has_mtp(model.get()))
    return fail("--speculate: " + artifact +
                " has no MTP head (its checkpoint had no mtp.* tensors, or it was compiled "
                "with --mtp=off)");
  if (auto open = tokenizer.tokenId("<think>"), close = tokenizer.tokenId("</think>");
      open && close) {
    options.thinkOpen = *open;
    options.thinkClose = *close;
    if (!tokenizer.encode(qnext::kStopThinkingText, options.stopThinking, why))
      return fail(why);
  }

  Engine engine(model.get(), tokenizer, options);
  if (!engine.start(why))
    return fail(why);

  httplib::Server server;
  // A thread per request that runs or waits, and some for the light
  // endpoints; idle connections are closed soon.
  server.new_task_queue = [n = size_t(slots + queueSize + 8)] {
    return new httplib::ThreadPool(n);
  };
  server.set_payload_max_length(size_t(16) << 20);
  server.set_keep_alive_timeout(5);
  server.set_read_timeout(30);
  // Liveness: the process answers. Readiness: it takes a request now (not
  // stopping, a slot or a place in the queue free).
  server.Get("/health", [&](const httplib::Request &, httplib::Response &res) {
    if (std::string failure = engine.failed(); !failure.empty())
      return answer(res, 503, {{"status", "failed"}, {"error", failure}});
    answer(res, 200, {{"status", "ok"}});
  });
  server.Get("/ready", [&](const httplib::Request &, httplib::Response &res) {
    switch (engine.admits()) {
    case Engine::Refusal::None:
      return answer(res, 200, {{"status", "ready"}});
    case Engine::Refusal::Full:
      res.set_header("Retry-After", "1");
      return answer(res, 503, {{"status", "full"}});
    case Engine::Refusal::Stopping:
      return answer(res, 503, {{"status", "stopping"}});
    }
  });
  server.Get("/v1/models", [&](const httplib::Request &, httplib::Response &res) {
    answer(res, 200,
           {{"object", "list"},
            {"data", json::array({{{"id", modelName},
                                   {"object", "model"},
                                   {"created", 0},
                                   {"owned_by", "qnext"}}})}});
  });
  server.Get("/metrics", [&](const httplib::Request &, httplib::Response &res) {
    res.set_content(metrics(engine), "text/plain; version=0.0.4");
  });
  server.Post("/v1/completions", [&](const httplib::Request &req, httplib::Response &res) {
    complete(req, res, /*chat=*/false, info, engine);
  });
  server.Post("/v1/chat/completions",
              [&](const httplib::Request &req, httplib::Response &res) {
                complete(req, res, /*chat=*/true, info, engine);
              });
  server.set_error_handler([](const httplib::Request &req, httplib::Response &res) {
    if (!res.body.empty())
      return;
    ApiError e;
    e.status = res.status;
    e.type = res.status == 404  ? "not_found_error"
             : res.status >= 500 ? "server_error"
                                 : "invalid_request_error";
    e.message = res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                                  : "the request could not be served (HTTP " +
                                        std::to_string(res.status) + ")";
    answer(res, e);
  });

  // SO_REUSEADDR (a restart binds while the last run's connections close)
  // but not cpp-httplib's default SO_REUSEPORT too, with which a second
  // server on the same port would start and take half of the connections.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const int bound = port == 0 ? server.bind_to_any_port(host) : server.bind_to_port(host, port)
                                                                     ? port
                                                                     : -1;
  if (bound < 0)
    return fail("cannot listen on " + host + ":" + std::to_string(port) +
                " (in use, or not an address of this machine)");
  std::cerr << "qnext-serve: listening on http://" << host << ":" << bound << " (model "
            << modelName << ", " << slots << " slots of " << maxContext << " tokens)"
            << std::endl;

  // On a signal: no new requests (503), those in flight finish within the
  // grace period (a second signal cuts it short) or are cancelled, then the
  // server stops taking connections (stop() acts once listen has started).
  std::atomic<bool> listened{false};
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stopSignals, &signal);
    std::cerr << "qnext-serve: " << (signal == SIGINT ? "SIGINT" : "SIGTERM")
              << ": stopping (requests in flight have " << grace << " s)" << std::endl;
    engine.drain(grace, [&] {
      timespec now{0, 0};
      return sigtimedwait(&stopSignals, nullptr, &now) > 0;
    });
    while (!server.is_running() && !listened)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server.stop();
  });
  server.listen_after_bind();
  listened = true;
  engine.stop();
  // The stopper waits for a signal: one that never came (the server
  // stopped by itself) is sent now.
  if (stopper.joinable()) {
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return serveMain(argc, argv);
  } catch (const std::bad_alloc &) {
    return fail("out of memory");
  }
}
