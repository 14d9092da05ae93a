#include "server/store.h"

#include "base/check.h"
#include "engine/data/sha256.h"
#include "engine/io/atomic_file.h"
#include "models/ood_gate.h"

#include <fmt/format.h>

#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

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
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  split TEXT NOT NULL DEFAULT '');
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
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}',
  model TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
)sql";

constexpr const char* kSampleColumns = "id, sha256, label, patient_id, source, width, height, created_at, split";
constexpr const char* kModelColumns = "id, file, parent, created_at, metrics, active";
constexpr const char* kJobColumns = "id, state, params, detail, model, created_at, updated_at";

SampleRecord read_sample(Statement& s) {
  return {s.integer(0),
          s.text(1),
          s.text(2),
          s.text(3),
          s.text(4),
          s.text(7),
          static_cast<int>(s.integer(5)),
          static_cast<int>(s.integer(6)),
          s.text(8)};
}

JobRecord read_job(Statement& s) {
  return {s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6)};
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  CXR_CHECK(in, "store: cannot read '{}'", file.string());
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// What write_file_atomically leaves when the process dies mid-write: <name>.tmp-<pid>.
void remove_temporary_files(const fs::path& dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file() && it->path().filename().string().find(".tmp-") != std::string::npos)
      fs::remove(it->path(), ec);
}

// The OOD gate beside a model file (models/ood_gate.h) travels with it into the
// store; a gate records its model's SHA-256, which the stored file's name repeats.
void copy_gate_beside(const fs::path& source_model, const std::string& stored_model) {
  const fs::path gate = gate_path_for(source_model.string()), target = gate_path_for(stored_model);
  std::error_code ec;
  if (fs::exists(gate, ec) && !fs::exists(target, ec)) write_file_atomically(target.string(), read_bytes(gate));
}

}  // namespace

std::string sample_split(const std::string& patient_id, const std::string& sha256) {
  const std::string key = patient_id.empty() ? "image:" + sha256 : "patient:" + patient_id;
  const auto digest = data::sha256(std::span(reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
  std::uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x = (x << 8) | digest[i];
  const double u = static_cast<double>(x >> 11) / 9007199254740992.0;  // 53 bits -> [0, 1)
  return u < 0.70 ? "train" : u < 0.85 ? "val" : "test";
}

Store::Store(const fs::path& dir) : dir_(make_dirs(dir)), db_((dir_ / "cxr.db").string()) {
  make_dirs(dir_ / "images");
  make_dirs(dir_ / "models");
  remove_temporary_files(dir_ / "images");
  remove_temporary_files(dir_ / "models");
  db_.exec(kSchema);
  migrate();
  remove_unregistered_models();
}

// A model file is written before its row is committed: a crash in between leaves a
// complete file that no version refers to. A registered model's OOD gate stays.
void Store::remove_unregistered_models() {
  std::set<std::string> registered;
  {
    auto s = db_.prepare("SELECT file FROM models");
    while (s.step()) {
      registered.insert(fs::path(s.text(0)).filename().string());
      registered.insert(fs::path(gate_path_for(s.text(0))).filename().string());
    }
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ / "models", ec))
    if (entry.is_regular_file() && !registered.count(entry.path().filename().string())) fs::remove(entry.path(), ec);
}

// Stores made before samples had a split: add the column and give every sample its split.
void Store::migrate() {
  bool has_split = false;
  {
    auto s = db_.prepare("PRAGMA table_info(samples)");
    while (s.step()) has_split = has_split || s.text(1) == "split";
  }
  Transaction tx(db_);
  if (!has_split) db_.exec("ALTER TABLE samples ADD COLUMN split TEXT NOT NULL DEFAULT ''");
  std::vector<std::tuple<std::int64_t, std::string, std::string>> unsplit;
  {
    auto s = db_.prepare("SELECT id, patient_id, sha256 FROM samples WHERE split = ''");
    while (s.step()) unsplit.emplace_back(s.integer(0), s.text(1), s.text(2));
  }
  for (const auto& [id, patient, sha] : unsplit)
    db_.prepare("UPDATE samples SET split = ? WHERE id = ?").bind(1, sample_split(patient, sha)).bind(2, id).run();
  tx.commit();
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

void Store::set_token(std::string_view token) {
  constexpr std::size_t kMinTokenLength = 16;  // guessing stays out of reach
  CXR_CHECK(token.size() >= kMinTokenLength, "store: a chosen API token needs at least {} characters, not {}",
            kMinTokenLength, token.size());
  std::lock_guard lock(mutex_);
  db_.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('token_sha256', ?)").bind(1, hex_sha256(token)).run();
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
  db_.prepare(
         "INSERT INTO samples (sha256, label, patient_id, source, width, height, split) "
         "VALUES (?, ?, ?, ?, ?, ?, ?)")
      .bind(1, sha)
      .bind(2, label)
      .bind(3, patient_id)
      .bind(4, source)
      .bind(5, width)
      .bind(6, height)
      .bind(7, sample_split(patient_id, sha))
      .run();
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
    auto s = db_.prepare(
        fmt::format("SELECT {} FROM samples {} ORDER BY id DESC LIMIT ?3 OFFSET ?4", kSampleColumns, where));
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

std::map<std::string, std::map<std::string, std::int64_t>> Store::split_counts() {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::map<std::string, std::int64_t>> out;
  auto s = db_.prepare("SELECT split, label, COUNT(*) FROM samples GROUP BY split, label");
  while (s.step()) out[s.text(0)][s.text(1)] = s.integer(2);
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

std::optional<ModelRecord> Store::model_locked(std::string_view where, const std::string& value) {
  auto s = db_.prepare(fmt::format("SELECT {} FROM models WHERE {} = ?", kModelColumns, where));
  s.bind(1, value);
  if (!s.step()) return std::nullopt;
  return read_model(s);
}

ModelRecord Store::add_model_locked(const std::string& bytes, const std::string& parent, const std::string& metrics) {
  const std::string sha = hex_sha256(bytes);
  if (auto existing = model_locked("sha256", sha)) return *existing;
  const fs::path target = fs::absolute(dir_ / "models" / (sha + ".safetensors"));
  write_file_atomically(target.string(), bytes);
  std::int64_t next = 1;
  {
    auto s = db_.prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM models");
    s.step();
    next = s.integer(0);
  }
  const std::string id = fmt::format("v{}", next);
  db_.prepare("INSERT INTO models (seq, id, sha256, file, parent, metrics) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, next)
      .bind(2, id)
      .bind(3, sha)
      .bind(4, target.string())
      .bind(5, parent)
      .bind(6, metrics.empty() ? std::string("{}") : metrics)
      .run();
  return *model_locked("id", id);
}

ModelRecord Store::add_model(const fs::path& file, const std::string& parent, const std::string& metrics) {
  const std::string bytes = read_bytes(file);
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  ModelRecord record = add_model_locked(bytes, parent, metrics);
  copy_gate_beside(file, record.file);
  tx.commit();
  return record;
}

std::vector<ModelRecord> Store::models() {
  std::lock_guard lock(mutex_);
  std::vector<ModelRecord> out;
  auto s = db_.prepare(fmt::format("SELECT {} FROM models ORDER BY seq", kModelColumns));
  while (s.step()) out.push_back(read_model(s));
  return out;
}

std::optional<ModelRecord> Store::model(const std::string& id) {
  std::lock_guard lock(mutex_);
  return model_locked("id", id);
}

std::optional<ModelRecord> Store::active_model() {
  std::lock_guard lock(mutex_);
  auto s = db_.prepare(fmt::format("SELECT {} FROM models WHERE active = 1", kModelColumns));
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

JobRecord Store::add_job(const std::string& params) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  db_.prepare("INSERT INTO jobs (state, params) VALUES ('queued', ?)").bind(1, params).run();
  auto s = db_.prepare(fmt::format("SELECT {} FROM jobs WHERE id = ?", kJobColumns));
  s.bind(1, db_.last_insert_id());
  s.step();
  JobRecord job = read_job(s);
  tx.commit();
  return job;
}

void Store::update_job(std::int64_t id, const std::string& state, const std::string& detail) {
  std::lock_guard lock(mutex_);
  db_.prepare(
         "UPDATE jobs SET state = ?, detail = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
         "WHERE id = ?")
      .bind(1, state)
      .bind(2, detail)
      .bind(3, id)
      .run();
}

ModelRecord Store::finish_job(std::int64_t id, const fs::path& model_file, const std::string& parent,
                              const std::string& metrics, const std::string& detail) {
  const std::string bytes = read_bytes(model_file);
  std::lock_guard lock(mutex_);
  Transaction tx(db_);
  ModelRecord record = add_model_locked(bytes, parent, metrics);
  db_.prepare(
         "UPDATE jobs SET state = 'succeeded', model = ?, detail = ?, "
         "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?")
      .bind(1, record.id)
      .bind(2, detail)
      .bind(3, id)
      .run();
  CXR_CHECK(db_.changes() == 1, "store: no job {}", id);
  tx.commit();
  return record;
}

std::optional<JobRecord> Store::job(std::int64_t id) {
  std::lock_guard lock(mutex_);
  auto s = db_.prepare(fmt::format("SELECT {} FROM jobs WHERE id = ?", kJobColumns));
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_job(s);
}

std::vector<JobRecord> Store::jobs(std::int64_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<JobRecord> out;
  auto s = db_.prepare(fmt::format("SELECT {} FROM jobs ORDER BY id DESC LIMIT ?", kJobColumns));
  s.bind(1, limit);
  while (s.step()) out.push_back(read_job(s));
  return out;
}

int Store::interrupt_unfinished_jobs() {
  std::lock_guard lock(mutex_);
  db_.prepare(
         "UPDATE jobs SET state = 'interrupted', updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
         "WHERE state IN ('queued', 'running')")
      .run();
  return db_.changes();
}

}  // namespace cxr::server
