import CrumbCore
import CrumbIO
import CrumbTestSupport
import Foundation
import Testing

/// Every real file in `../shared/data` that crumb claims to read: detected as its format, read end to end by
/// `crumb run`, with 0 rejects or the rejects listed here with their reason.
struct FormatIntegrationTests {
    struct Claim: Sendable, CustomStringConvertible {
        var path: String
        var format: String
        /// Rejects by reason, each explained where the table lists it.
        var rejects: [String: Int] = [:]
        var description: String { path }
    }

    static let claims: [Claim] = [
        // Telephony: Asterisk Master.csv, 18 columns.
        Claim(path: "telephony/cdr.csv", format: "asterisk-cdr"),
        Claim(path: "telephony/smallcdr.csv", format: "asterisk-cdr"),
        Claim(path: "telephony/smallcdr_wo_parallelcalls.csv", format: "asterisk-cdr"),
        // W3C extended (IIS, CloudFront, Oracle, IIS FTP).
        Claim(path: "w3c/ex031118.log", format: "w3c", rejects: ["missing_column": 1]),  // line 7 lacks its cs-bytes column
        Claim(path: "w3c/ex960101.log", format: "w3c"),
        Claim(path: "w3c/lnav-logfile_w3c.0", format: "w3c"),
        Claim(path: "w3c/lnav-logfile_w3c.1", format: "w3c"),
        Claim(path: "w3c/lnav-logfile_w3c.2", format: "w3c"),
        Claim(path: "w3c/lnav-logfile_w3c.3", format: "w3c"),
        Claim(path: "w3c/lnav-logfile_w3c.5", format: "w3c", rejects: ["extra_columns": 1]),  // 6 columns declared, 17 written
        Claim(path: "w3c/lnav-logfile_w3c.6", format: "w3c"),
        Claim(path: "w3c/lnav-logfile_w3c_big.0", format: "w3c"),
        Claim(path: "w3c/test-cloudfront.log", format: "w3c", rejects: ["missing_column": 1]),  // line 14: 31 of 33 columns
        Claim(path: "matomo-fixtures/iis.log", format: "w3c"),
        Claim(path: "matomo-fixtures/iis_custom.log", format: "w3c"),
        Claim(path: "matomo-fixtures/amazon_cloudfront_web.log", format: "w3c"),
        Claim(path: "matomo-fixtures/amazon_cloudfront_rtmp.log", format: "w3c"),
        Claim(path: "matomo-fixtures/incapsula_w3c.log", format: "w3c"),
        Claim(path: "matomo-fixtures/netscaler.log", format: "w3c"),
        Claim(path: "matomo-fixtures/shoutcast.log", format: "w3c"),
        Claim(path: "matomo-fixtures/splitted_date_and_time.log", format: "w3c"),
        // AWS.
        Claim(path: "w3c/application-lb-http.log", format: "aws_alb"),
        Claim(path: "matomo-fixtures/alb.log", format: "aws_alb"),
        Claim(path: "matomo-fixtures/elb.log", format: "aws_elb"),  // its TCP line counts as an invalid request
        Claim(path: "matomo-fixtures/s3.log", format: "aws_s3"),
        // JSON.
        Claim(path: "matomo-fixtures/caddy_json.log", format: "json:caddy"),
        Claim(path: "matomo-fixtures/nginx_json.log", format: "json:nginx_json"),
        Claim(path: "matomo-fixtures/traefik_json.log", format: "json:traefik"),
        // Apache/nginx text formats.
        Claim(path: "matomo-fixtures/common.log", format: "common"),
        Claim(path: "matomo-fixtures/common.log.gz", format: "common"),
        Claim(path: "matomo-fixtures/ncsa_extended.log", format: "combined"),
        Claim(path: "matomo-fixtures/ovh.log", format: "combined"),
        Claim(path: "matomo-fixtures/icecast2.log", format: "combined"),  // a trailing time taken
        Claim(path: "matomo-fixtures/logs_to_tests.log", format: "combined"),  // its '#' lines are comments
        Claim(path: "matomo-fixtures/common_vhost.log", format: "common_vhost"),
        Claim(path: "matomo-fixtures/common_complete.log", format: "combined_vhost"),
        Claim(path: "matomo-fixtures/common_encoding_big5.log", format: "combined_vhost"),  // Big5 bytes in the path
        Claim(path: "matomo-fixtures/static_ignores.log", format: "combined_vhost"),
        Claim(path: "web/omniture.log", format: "combined"),  // Cookie field, then a time taken
        Claim(path: "web/omniture-access.log", format: "combined"),
        Claim(path: "web/omniture-sample.log", format: "combined"),
        Claim(path: "web/dual-format-access.log", format: "combined"),
        Claim(path: "web/elastic-apache_logs.log", format: "combined"),
    ]

    /// Files crumb does not claim, and why: each must stop early with a clear error, never be misread.
    static let unclaimed: [String] = [
        "w3c/ex010320.log",  // IIS's native comma-separated format, not W3C extended
        "matomo-fixtures/common.log.bz2",  // bzip2: decompress first (crumb reads gzip and plain text)
        "matomo-fixtures/custom_regex_custom_date.log",  // Matomo's own test of a custom regular expression
        "matomo-fixtures/gandi.log",  // Gandi's "(0 s)" field between time and request
        "matomo-fixtures/haproxy.log",  // HAProxy's syslog format
    ]

    @Test(arguments: claims)
    func claimedFileIsDetectedAndReadWhole(_ claim: Claim) throws {
        guard let path = SharedData.path(claim.path) else {
            print(SharedData.missing(claim.path))
            return
        }
        let directory = temporaryDirectory()
        var configuration = runConfiguration([path], out: directory + "/out")
        configuration.maxRejectRatio = 1
        let detected = try FormatSniffer.detect([path], configuration: configuration)
        #expect(detected.first?.detection.spec?.name == claim.format, "\(detected.first?.detection.reason ?? "")")

        let report = try BatchRunner.run(configuration)
        let input = try #require(report.manifest.inputs.first)
        #expect(input.error == nil)
        #expect(input.format == claim.format)
        #expect(input.rejectsByReason == claim.rejects)
        #expect(input.linesParsed + input.linesRejected > 0)
        #expect(input.linesRead == input.linesParsed + input.linesRejected + input.linesBlank + input.linesHeader)
        #expect(input.channel == (claim.format.hasSuffix("-cdr") ? "calls" : "web"))
    }

    @Test(arguments: unclaimed)
    func unclaimedFileStopsWithTheFormatsTried(_ relative: String) throws {
        guard let path = SharedData.path(relative) else {
            print(SharedData.missing(relative))
            return
        }
        let directory = temporaryDirectory()
        let report = try BatchRunner.run(runConfiguration([path], out: directory + "/out"))
        let input = try #require(report.manifest.inputs.first)
        #expect(input.format == "unknown")
        #expect(input.linesParsed == 0)
        let error = try #require(input.error)
        #expect(error.contains("no known format matches its first lines"))
        if relative.hasSuffix(".bz2") {
            #expect(error.contains("bzip2-compressed") && error.contains("bunzip2 -c"))
        } else {
            #expect(error.contains("tried json:beacon") && error.contains("combined"))
        }
        #expect(report.hasDataErrors)
    }

    /// The issue's acceptance check for telephony: call counts, answered calls and talk time equal an
    /// independent sum of each CSV, read here with a plain comma split.
    @Test(arguments: ["telephony/cdr.csv", "telephony/smallcdr.csv", "telephony/smallcdr_wo_parallelcalls.csv"])
    func callTotalsEqualAnIndependentSum(_ relative: String) throws {
        guard let path = SharedData.path(relative) else {
            print(SharedData.missing(relative))
            return
        }
        var rows = 0, answered = 0, talk = 0
        var perHour: [String: Int] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let columns = line.split(separator: ",", omittingEmptySubsequences: false)
            try #require(columns.count == 18, "these files have 18 columns and no comma inside a field")
            rows += 1
            if columns[10] != "\"\"", !columns[10].isEmpty { answered += 1 }  // "" or nothing: unanswered
            talk += try #require(Int(columns[13]))
            perHour[String(columns[9].dropFirst().prefix(13)), default: 0] += 1  // "2017-06-20 09
        }

        let directory = temporaryDirectory()
        var configuration = runConfiguration([path], out: directory + "/out")
        configuration.timeZone = .utc
        let report = try BatchRunner.run(configuration)
        #expect(report.manifest.totals.linesParsed == rows)
        #expect(report.manifest.totals.linesRejected == 0)
        let csv = try String(contentsOfFile: directory + "/out/call_trends.csv", encoding: .utf8)
        let totals = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }.filter { $0[2] == "total" }
        #expect(totals.reduce(0) { $0 + Int($1[4])! } == rows)
        #expect(totals.reduce(0) { $0 + Int($1[5])! } == answered)
        #expect(totals.reduce(0) { $0 + Int($1[7])! } == talk)
        // Buckets follow the start times (UTC here).
        #expect(Dictionary(uniqueKeysWithValues: totals.map { (String($0[0].prefix(13)).replacingOccurrences(of: "T", with: " "), Int($0[4])!) }) == perHour)
        // Each dimension's calls sum to the total, (other) rows included.
        for dimension in ["dialled", "context", "ivr_path", "disposition"] {
            let sum = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
                .filter { $0[2] == Substring(dimension) }.reduce(0) { $0 + Int($1[4])! }
            #expect(sum == rows, "\(dimension)")
        }
    }

    /// Tracking pixels count as the page they report; DNT and Sec-GPC captured in a JSON log opt out.
    @Test func pixelsCountThePageAndHeadersOptOut() throws {
        guard let omniture = SharedData.path("web/omniture.log"), let caddy = SharedData.path("matomo-fixtures/caddy_json.log") else {
            print(SharedData.missing("web/omniture.log"))
            return
        }
        let directory = temporaryDirectory()
        var configuration = runConfiguration([omniture, caddy], out: directory + "/out")
        configuration.policy.minCount = 0
        let report = try BatchRunner.run(configuration)
        #expect(report.manifest.totals.linesOptedOut == 3)  // every caddy line has Dnt: 1 and Sec-Gpc: 1
        let csv = try String(contentsOfFile: directory + "/out/web_trends.csv", encoding: .utf8)
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let paths = rows.filter { $0[2] == "path" }.map { String($0[3]) }
        #expect(paths.contains("/nl/p/secret-the/{number}/"))
        #expect(!paths.contains { $0.hasSuffix(".gif") })
        #expect(rows.contains { $0[2] == "referrer_host" && $0[3] == "www.google.nl" })
        #expect(csv.contains(#"event,"prodView,event1,event31""#))
    }
}
