// The RFC 4180 reader (engine/data/csv.h): quoting, line ends, BOM, line numbers,
// and every way a row can be malformed.
#include "base/check.h"
#include "engine/data/csv.h"

#include <gtest/gtest.h>

using namespace cxr::data;

namespace {
std::vector<std::string> fields(std::initializer_list<const char*> l) {
  return {l.begin(), l.end()};
}
}  // namespace

TEST(DataCsv, PlainRowsWithLineNumbers) {
  const auto t = parse_csv("a,b,c\n1,2,3\n4,5,6\n");
  EXPECT_EQ(t.header, fields({"a", "b", "c"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].fields, fields({"1", "2", "3"}));
  EXPECT_EQ(t.rows[0].line, 2);
  EXPECT_EQ(t.rows[1].line, 3);
  EXPECT_TRUE(t.issues.empty());
  EXPECT_EQ(t.column("c"), 2);
  EXPECT_EQ(t.column("d"), -1);
}

TEST(DataCsv, QuotedCommasDoubledQuotesNewlinesCrlfAndBom) {
  const std::string text =
      "\xEF\xBB\xBFid,notes,x\r\n"
      "1,\"fever, cough\",a\r\n"
      "2,\"she said \"\"no\"\"\",b\r\n"
      "3,\"line one\r\nline two\nline three\",c\r\n"
      "4,\"\",d\r\n";
  const auto t = parse_csv(text);
  EXPECT_EQ(t.header, fields({"id", "notes", "x"}));  // the BOM is not part of "id"
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_EQ(t.rows[0].fields[1], "fever, cough");
  EXPECT_EQ(t.rows[1].fields[1], "she said \"no\"");
  EXPECT_EQ(t.rows[2].fields[1], "line one\r\nline two\nline three");
  EXPECT_EQ(t.rows[3].fields[1], "");
  EXPECT_EQ(t.rows[3].fields[2], "d");
  // Lines: header 1, rows 2, 3, 4 (spanning 4-6), 7.
  EXPECT_EQ(t.rows[2].line, 4);
  EXPECT_EQ(t.rows[3].line, 7);
  EXPECT_TRUE(t.issues.empty());
}

TEST(DataCsv, SpacesArePartOfFieldsAndEmptyFieldsAreKept) {
  const auto t = parse_csv("a,b,c\n x , y ,\n");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0].fields, fields({" x ", " y ", ""}));
}

TEST(DataCsv, LastLineWithoutNewlineAndBlankLines) {
  const auto t = parse_csv("a,b\n\n1,2\n\r\n3,4");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].line, 3);
  EXPECT_EQ(t.rows[1].fields, fields({"3", "4"}));
  EXPECT_EQ(t.rows[1].line, 5);
}

TEST(DataCsv, RaggedRowsAreReportedWithTheirLineAndLeftOut) {
  const auto t = parse_csv("a,b,c\n1,2,3\n4,5\n6,7,8,9\n\"multi\nline\",x\n10,11,12\n");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].fields[0], "1");
  EXPECT_EQ(t.rows[1].fields[0], "10");
  EXPECT_EQ(t.rows[1].line, 7);
  ASSERT_EQ(t.issues.size(), 3u);
  EXPECT_EQ(t.issues[0].line, 3);
  EXPECT_NE(t.issues[0].message.find("truncated"), std::string::npos) << t.issues[0].message;
  EXPECT_EQ(t.issues[1].line, 4);
  EXPECT_NE(t.issues[1].message.find("4 fields"), std::string::npos) << t.issues[1].message;
  EXPECT_EQ(t.issues[2].line, 5);  // where the two-line row starts
}

TEST(DataCsv, UnclosedQuoteAtEndOfFileIsReported) {
  const auto t = parse_csv("a,b\n1,2\n3,\"cut off in the mid\ndle of a note");
  ASSERT_EQ(t.rows.size(), 1u);
  ASSERT_EQ(t.issues.size(), 1u);
  EXPECT_EQ(t.issues[0].line, 3);
  EXPECT_NE(t.issues[0].message.find("not closed"), std::string::npos);
}

TEST(DataCsv, MalformedQuotingIsReportedAndParsingResumesOnTheNextLine) {
  const auto t = parse_csv("a,b\n1,ab\"c\n2,\"x\"y\n3,ok\n");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0].fields, fields({"3", "ok"}));
  EXPECT_EQ(t.rows[0].line, 4);
  ASSERT_EQ(t.issues.size(), 2u);
  EXPECT_EQ(t.issues[0].line, 2);
  EXPECT_EQ(t.issues[1].line, 3);
}

TEST(DataCsv, EmptyInput) {
  const auto t = parse_csv("");
  EXPECT_TRUE(t.header.empty());
  EXPECT_TRUE(t.rows.empty());
  EXPECT_TRUE(t.issues.empty());
}

TEST(DataCsv, FieldQuotingRoundTrips) {
  const std::vector<std::string> values = {"plain", "a,b", "say \"hi\"", "two\nlines", "cr\r\nlf", " padded ", ""};
  std::string line;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) line += ',';
    line += csv_field(values[i]);
  }
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  const auto t = parse_csv("h1,h2,h3,h4,h5,h6,h7\n" + line + "\n");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0].fields, values);
}

TEST(DataCsv, MissingFileThrows) {
  EXPECT_THROW(read_csv("/nonexistent/metadata.csv"), cxr::Error);
}
