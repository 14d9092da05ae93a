#include "server/store.h"

#include "engine/check.h"
#include "engine/data/sha256.h"
#include "engine/io/atomic_file.h"

#include <fmt/format.h>

#include <fstream>
#include <random>
#include <sstream>

namespace cxr::server {

namespace fs = std::filesystem;

namespace {

std::string hex_sha256(std::string_view bytes) {
  return data::to_hex(data::sha256(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size())));
}

fs::path make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  CXR_CHECK(!ec, "store: cannot create '{}': {}", dir.string(), ec.message());
  return dir;
}

// 256 random bits from the kernel's CSPRNG, as hex.
std::string random_token() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::array<unsigned char, 32> bytes{};
  CXR_CHECK(urandom.read(reinterpret_cast<char*>(bytes.data()), bytes.size()), "store: cannot read /dev/urandom");
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sha256 TEXT NOT NULL UNIQUE,
  label TEXT NOT NULL,
  patient_id TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT 'upload',
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE INDEX IF NOT EXISTS samples_label ON samples(label);
CREATE TABLE IF NOT EXISTS models (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  sha256 TEXT NOT NULL UNIQUE,
  file TEXT NOT NULL,
  parent TEXT NOT NULL DEFAULT '',
  metrics TEXT NOT NULL DEFAULT '{}',
  active INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
)sql";

constexpr const char* kSampleColumns = "id, sha256, label, patient_id, source, width, height, created_at";

SampleRecord read_sample(Statement& s) {
  return {s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(7),
          static_cast<int>(s.integer(5)), static_cast<int>(s.integer(6))};
}

}  // namespace

Store::Store(const fs::path& dir) : dir_(make_dirs(dir)), db_((dir_ / "cxr.db").string()) {
  make_dirs(dir_ / "images");
  make_dirs(dir_ / "models");
  db_.exec(kSchema);
}

std::optional<std::string> Store::create_token_if_missing() {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  auto existing = db_.prepare("SELECT value FROM meta WHERE key = 'token_sha256'");
  if (existing.step()) return std::nullopt;
  const std::string token = random_token();
  db_.prepare("INSERT INTO meta (key, value) VALUES ('token_sha256', ?)").bind(1, hex_sha256(token)).run();
  tx.commit();
  return token;
}

bool Store::token_matches(std::string_view token) {
  std::string stored;
  {
    std::lock_guard lock(mutex_);
    auto s = db_.prepare("SELECT value FROM meta WHERE key = 'token_sha256'");
    if (!s.step()) return false;
    stored = s.text(0);
  }
  // Compare hashes in constant time: no timing hint about the token.
  const std::string given = hex_sha256(token);
  unsigned char diff = given.size() == stored.size() ? 0 : 1;
  for (std::size_t i = 0; i < std::min(given.size(), stored.size()); ++i) diff |= given[i] ^ stored[i];
  return diff == 0;
}

fs::path Store::image_path(const std::string& sha256) const {
  return dir_ / "images" / sha256.substr(0, 2) / sha256;
}

Store::Added Store::add_sample(std::string_view bytes, const std::string& label, const std::string& patient_id,
                               const std::string& source, int width, int height) {
  const std::string sha = hex_sha256(bytes);
  std::lock_guard lock(mutex_);
  {
    auto s = db_.prepare(fmt::format("SELECT {} FROM samples WHERE sha256 = ?", kSampleColumns));
    s.bind(1, sha);
    if (s.step()) return {read_sample(s), true};
  }
  const fs::path file = image_path(sha);
  make_dirs(file.parent_path());
  write_file_atomically(file.string(), bytes);
  Transaction tx(db_);
  db_.prepare("INSERT INTO samples (sha256, label, patient_id, source, width, height) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, sha).bind(2, label).bind(3, patient_id).bind(4, source).bind(5, width).bind(6, height).run();
  const std::int64_t id = db_.last_insert_id();
  auto s = db_.prepare(fmt::format("SELECT {} FROM samples WHERE id = ?", kSampleColumns));
  s.bind(1, id);
  s.step();
  Added added{read_sample(s), false};
  tx.commit();
  return added;
}

SamplePage Store::list_samples(const std::optional<std::string>& label, const std::optional<std::string>& source,
                               std::int64_t page, std::int64_t per_page) {
  std::lock_guard lock(mutex_);
  SamplePage out;
  const std::string where = "WHERE (?1 IS NULL OR label = ?1) AND (?2 IS NULL OR source = ?2)";
  {
    auto s = db_.prepare("SELECT COUNT(*) FROM samples " + where);
    s.bind(1, label).bind(2, source);
    s.step();
    out.total = s.integer(0);
  }
  {
    auto s = db_.prepare(fmt::format("SELECT {} FROM samples {} ORDER BY id DESC LIMIT ?3 OFFSET ?4", kSampleColumns,
                                     where));
    s.bind(1, label).bind(2, source).bind(3, per_page).bind(4, (page - 1) * per_page);
    while (s.step()) out.samples.push_back(read_sample(s));
  }
  auto s = db_.prepare("SELECT label, COUNT(*) FROM samples GROUP BY label ORDER BY label");
  while (s.step()) out.counts[s.text(0)] = s.integer(1);
  return out;
}

std::optional<SampleRecord> Store::sample(std::int64_t id) {
  std::lock_guard lock(mutex_);
  auto s = db_.prepare(fmt::format("SELECT {} FROM samples WHERE id = ?", kSampleColumns));
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_sample(s);
}

std::vector<SampleRecord> Store::all_samples() {
  std::lock_guard lock(mutex_);
  std::vector<SampleRecord> out;
  auto s = db_.prepare(fmt::format("SELECT {} FROM samples ORDER BY id", kSampleColumns));
  while (s.step()) out.push_back(read_sample(s));
  return out;
}

bool Store::delete_sample(std::int64_t id) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  std::string sha;
  {
    auto s = db_.prepare("SELECT sha256 FROM samples WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return false;
    sha = s.text(0);
  }
  db_.prepare("DELETE FROM samples WHERE id = ?").bind(1, id).run();
  tx.commit();
  // The row is gone first: a crash here leaves an unreferenced file, never a dangling row.
  std::error_code ec;
  fs::remove(image_path(sha), ec);
  return true;
}

ModelRecord Store::read_model(Statement& s) {
  return {s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.integer(5) != 0};
}

ModelRecord Store::add_model(const fs::path& file, const std::string& parent, const std::string& metrics) {
  std::ifstream in(file, std::ios::binary);
  CXR_CHECK(in, "store: cannot read model file '{}'", file.string());
  std::ostringstream content;
  content << in.rdbuf();
  const std::string bytes = content.str();
  const std::string sha = hex_sha256(bytes);
  std::lock_guard lock(mutex_);
  {
    auto s = db_.prepare("SELECT id, file, parent, created_at, metrics, active FROM models WHERE sha256 = ?");
    s.bind(1, sha);
    if (s.step()) return read_model(s);
  }
  const fs::path target = fs::absolute(dir_ / "models" / (sha + ".safetensors"));
  write_file_atomically(target.string(), bytes);
  Transaction tx(db_);
  std::int64_t next = 1;
  {
    auto s = db_.prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM models");
    s.step();
    next = s.integer(0);
  }
  const std::string id = fmt::format("v{}", next);
  db_.prepare("INSERT INTO models (seq, id, sha256, file, parent, metrics) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, next).bind(2, id).bind(3, sha).bind(4, target.string()).bind(5, parent)
      .bind(6, metrics.empty() ? std::string("{}") : metrics).run();
  tx.commit();
  auto s = db_.prepare("SELECT id, file, parent, created_at, metrics, active FROM models WHERE id = ?");
  s.bind(1, id);
  s.step();
  return read_model(s);
}

std::vector<ModelRecord> Store::models() {
  std::lock_guard lock(mutex_);
  std::vector<ModelRecord> out;
  auto s = db_.prepare("SELECT id, file, parent, created_at, metrics, active FROM models ORDER BY seq");
  while (s.step()) out.push_back(read_model(s));
  return out;
}

std::optional<ModelRecord> Store::model(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto s = db_.prepare("SELECT id, file, parent, created_at, metrics, active FROM models WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_model(s);
}

std::optional<ModelRecord> Store::active_model() {
  std::lock_guard lock(mutex_);
  auto s = db_.prepare("SELECT id, file, parent, created_at, metrics, active FROM models WHERE active = 1");
  if (!s.step()) return std::nullopt;
  return read_model(s);
}

void Store::set_active(const std::string& id) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  db_.prepare("UPDATE models SET active = (id = ?)").bind(1, id).run();
  auto s = db_.prepare("SELECT COUNT(*) FROM models WHERE active = 1");
  s.step();
  CXR_CHECK(s.integer(0) == 1, "store: no model version '{}'", id);
  tx.commit();
}

}  // namespace cxr::server
