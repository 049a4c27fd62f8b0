/// Named formats: Apache's and nginx's stock `LogFormat`s, and the AWS load balancer and S3 access logs.
///
/// The Apache and nginx presets are ordinary format strings. The AWS presets are built from steps, since
/// their fields are not expressible as format strings (an `address:port` token, any number of trailing
/// fields); they run on the same engine.
public enum FormatPresets {
    /// Every preset's name, in the order `crumb formats` lists them.
    public static let names: [String] = [
        "common", "combined", "vhost_combined", "combined_cookie", "common_vhost", "combined_vhost", "nginx_combined", "aws_alb",
        "aws_elb", "aws_s3",
    ]

    /// The preset called `name`, or nil.
    public static func program(named name: String) -> FormatProgram? { programs[name] }

    /// Apache's `common`.
    public static let common = #"%h %l %u %t "%r" %>s %b"#
    /// Apache's `combined`.
    public static let combined = #"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i""#
    /// Apache's `vhost_combined` (Debian's default for virtual hosts).
    public static let vhostCombined = #"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#
    /// `combined` with the Cookie header.
    public static let combinedCookie = combined + #" "%{Cookie}i""#
    /// `common` with the virtual host first.
    public static let commonVhost = #"%v %h %l %u %t "%r" %>s %b"#
    /// `combined` with the virtual host first (Matomo's "common complete").
    public static let combinedVhost = #"%v %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i""#
    /// nginx's predefined `combined`.
    public static let nginxCombined =
        #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#

    private static let programs: [String: FormatProgram] = {
        // Safe to force-try: constant formats, each compiled by the preset tests.
        var programs: [String: FormatProgram] = [
            "common": try! FormatProgram.apache(common),
            "combined": try! FormatProgram.apache(combined),
            "vhost_combined": try! FormatProgram.apache(vhostCombined),
            "combined_cookie": try! FormatProgram.apache(combinedCookie),
            "common_vhost": try! FormatProgram.apache(commonVhost),
            "combined_vhost": try! FormatProgram.apache(combinedVhost),
            "nginx_combined": try! FormatProgram.nginx(nginxCombined),
            "aws_alb": try! awsALB(),
            "aws_elb": try! awsELB(),
            "aws_s3": try! awsS3(),
        ]
        for name in names { programs[name]?.name = name }
        return programs
    }()

    /// Application Load Balancer
    /// (<https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html>):
    /// `type time elb client:port target:port request_processing_time target_processing_time
    /// response_processing_time elb_status_code target_status_code received_bytes sent_bytes "request"
    /// "user_agent"`, then any number of fields (TLS, target group, trace id, domain, rule, actions...),
    /// skipped. The client is the address of `client:port` (IPv6 too); the time is the ISO-8601 response
    /// time; the status is `elb_status_code` (`-` reads as 0); bytes are `sent_bytes`; the duration is
    /// the sum of the three processing times (none when any is `-1`). The request target is in absolute
    /// form, so its host becomes the event's host.
    static func awsALB() throws(FormatStringError) -> FormatProgram {
        var b = FormatProgramBuilder()
        b.field(.ignored, column: 0, label: "type")
        b.literal(" ")
        b.field(.iso8601, column: 0, label: "time")
        b.literal(" ")
        try loadBalancerFields(&b)
        return try b.finish(name: "aws_alb", source: "")
    }

    /// Classic Load Balancer (<https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/access-log-collection.html>):
    /// `timestamp elb client:port backend:port request_processing_time backend_processing_time
    /// response_processing_time elb_status_code backend_status_code received_bytes sent_bytes "request"
    /// "user_agent" ssl_cipher ssl_protocol`, with fields after the user agent skipped. Read as `aws_alb`.
    /// A TCP listener's line has request `"- - - "` and status `-`: it parses as an invalid request with
    /// status 0.
    static func awsELB() throws(FormatStringError) -> FormatProgram {
        var b = FormatProgramBuilder()
        b.field(.iso8601, column: 0, label: "timestamp")
        b.literal(" ")
        try loadBalancerFields(&b)
        return try b.finish(name: "aws_elb", source: "")
    }

    /// From `elb` on, ALB and ELB lines agree.
    private static func loadBalancerFields(_ b: inout FormatProgramBuilder) throws(FormatStringError) {
        b.field(.ignored, column: 0, label: "elb")
        b.literal(" ")
        b.field(.clientAddressPort, column: 0, label: "client:port")
        b.literal(" ")
        b.field(.ignored, column: 0, label: "target:port")
        for label in ["request_processing_time", "target_processing_time", "response_processing_time"] {
            b.literal(" ")
            b.field(.durationSecondsPart, column: 0, label: label)
        }
        b.literal(" ")
        b.field(.statusFinal, column: 0, label: "elb_status_code")
        b.literal(" ")
        b.field(.ignored, column: 0, label: "target_status_code")
        b.literal(" ")
        b.field(.ignored, column: 0, label: "received_bytes")
        b.literal(" ")
        b.field(.bodyBytes, column: 0, label: "sent_bytes")
        b.literal(#" ""#)
        b.field(.request, column: 0, label: "request")
        b.literal(#"" ""#)
        b.field(.userAgent, column: 0, label: "user_agent")
        b.literal(#"""#)
        b.field(.skipRest, column: 0, label: "...")
    }

    /// S3 server access log (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html>):
    /// `bucket_owner bucket [time] remote_ip requester request_id operation key "request_uri" http_status
    /// error_code bytes_sent object_size total_time turn_around_time "referer" "user_agent"`, then any number
    /// of fields (version id, host id, signature, cipher, auth type, host header, TLS...), skipped. The
    /// bucket is the host; the requester (an ARN or canonical user id), request id and key are skipped; the
    /// duration is `total_time` (milliseconds).
    static func awsS3() throws(FormatStringError) -> FormatProgram {
        var b = FormatProgramBuilder()
        b.field(.ignored, column: 0, label: "bucket_owner")
        b.literal(" ")
        b.field(.host, column: 0, label: "bucket")
        b.literal(" ")
        b.field(.apacheTime, column: 0, label: "time", a: 1)
        b.literal(" ")
        b.field(.client, column: 0, label: "remote_ip")
        for label in ["requester", "request_id", "operation", "key"] {
            b.literal(" ")
            b.field(.ignored, column: 0, label: label)
        }
        b.literal(#" ""#)
        b.field(.request, column: 0, label: "request_uri")
        b.literal(#"" "#)
        b.field(.statusFinal, column: 0, label: "http_status")
        b.literal(" ")
        b.field(.ignored, column: 0, label: "error_code")
        b.literal(" ")
        b.field(.bodyBytes, column: 0, label: "bytes_sent")
        b.literal(" ")
        b.field(.ignored, column: 0, label: "object_size")
        b.literal(" ")
        b.field(.durationMillis, column: 0, label: "total_time")
        b.literal(" ")
        b.field(.ignored, column: 0, label: "turn_around_time")
        b.literal(#" ""#)
        b.field(.referrer, column: 0, label: "referer")
        b.literal(#"" ""#)
        b.field(.userAgent, column: 0, label: "user_agent")
        b.literal(#"""#)
        b.field(.skipRest, column: 0, label: "...")
        return try b.finish(name: "aws_s3", source: "")
    }
}
