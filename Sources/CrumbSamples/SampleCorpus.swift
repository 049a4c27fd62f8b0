/// Word lists and templates the generator draws from. Everything personal here is a reserved, fictional or
/// published test value: example.com/.org/.net and .test domains, invented names, US 555-01xx, Ofcom and ARCEP
/// drama numbers, the card numbers payment providers publish for testing, famous non-personal SSNs and the
/// example IBANs of the IBAN registry.
enum SampleCorpus {
    static let siteOrigin = "https://www.example-shop.test"

    // MARK: Site vocabulary

    static let productWords = [
        "running", "trail", "shoe", "jacket", "waterproof", "winter", "fleece", "hoodie", "backpack", "tent",
        "sleeping", "bag", "bottle", "socks", "merino", "base", "layer", "gloves", "beanie", "cap", "shorts",
        "tights", "vest", "rain", "shell", "down", "parka", "boots", "hiking", "poles", "headlamp", "stove",
        "mug", "chair", "hammock", "kids", "womens", "mens", "lightweight", "insulated", "classic", "pro",
        "ultra", "compact", "travel", "yoga", "mat", "cycling", "helmet", "lock", "pump", "saddle", "bib",
    ]

    static let categories: [(String, [String])] = [
        ("women", ["jackets", "shoes", "tops", "trousers", "accessories", "sale"]),
        ("men", ["jackets", "shoes", "shirts", "trousers", "accessories", "men%27s-sale"]),
        ("kids", ["jackets", "shoes", "school", "toys"]),
        ("outdoor", ["tents", "sleeping-bags", "backpacks", "cooking", "navigation"]),
        ("cycling", ["bikes", "helmets", "clothing", "parts", "e-bikes"]),
        ("home", ["kitchen", "caf%C3%A9-corner", "decor", "bath", "garden%20tools"]),
        ("running", ["road", "trail", "watches", "nutrition"]),
        ("sale", ["last-chance", "bundles", "clearance"]),
    ]

    static let blogWords = [
        "how", "to", "choose", "the", "best", "guide", "for", "beginners", "tips", "winter", "summer", "trail",
        "running", "layering", "packing", "list", "care", "wash", "your", "down", "jacket", "review", "our",
        "top", "picks", "camping", "with", "kids", "weekend", "in", "the", "alps", "city", "cycling", "why",
        "merino", "wool", "works", "behind", "scenes", "sustainability", "report", "repair", "cafe",
    ]

    static let searchTerms = [
        "running shoes", "waterproof jacket", "rain jacket women", "tent 2 person", "merino socks", "gift card",
        "hiking boots", "size guide", "returns", "black friday", "sleeping bag", "kids jacket", "bike helmet",
        "yoga mat", "down jacket", "trail shoes mens", "backpack 30l", "headlamp", "thermos", "caf\u{E9} mug",
        "gr\u{F6}\u{DF}e 42", "order status", "discount code", "fleece", "parka", "gloves touchscreen",
    ]

    static let campaigns = [
        "spring_sale", "newsletter_2026_01", "black_friday", "retargeting", "brand", "summer_launch",
        "winter_clearance", "welcome_series", "app_install", "blog_footer",
    ]

    static let utmSources = ["google", "newsletter", "facebook", "instagram", "bing", "linkedin", "tiktok", "partner"]
    static let utmMediums = ["cpc", "email", "social", "display", "affiliate", "organic", "referral"]
    static let sortOrders = ["price_asc", "price_desc", "newest", "popular", "rating", "relevance"]
    static let colours = ["black", "navy", "red", "olive", "grey", "white", "blue"]
    static let sizes = ["xs", "s", "m", "l", "xl", "38", "40", "42", "44"]

    static let jsChunks = ["app", "vendor", "runtime", "checkout", "product", "search", "polyfills", "analytics"]
    static let cssFiles = ["main", "checkout", "print", "product", "blog"]
    static let fonts = ["inter-var", "inter-bold", "source-serif", "icons"]
    static let imageSizes = ["120x120", "320x320", "640x640", "1200x1200", "1920x800", "600x400"]
    static let imageTypes = [".jpg", ".webp", ".png", ".avif"]

    static let apiResources = ["products", "stock", "reviews", "prices", "recommendations", "wishlist"]

    static let miscPaths = [
        "/cart", "/checkout", "/checkout/shipping", "/checkout/payment", "/checkout/confirmation",
        "/account/login", "/account/register", "/account/orders", "/account/wishlist", "/about", "/contact",
        "/help", "/help/returns", "/help/shipping", "/help/size-guide", "/stores", "/stores/london",
        "/stores/berlin", "/stores/m%C3%BCnchen", "/careers", "/privacy", "/terms", "/gift-cards",
        "/newsletter", "/sitemap.xml", "/manifest.json", "/service-worker.js", "/apple-touch-icon.png",
        "/.well-known/security.txt", "/ads.txt", "/feed.xml",
    ]

    static let probePaths = [
        "/wp-login.php", "/.env", "/xmlrpc.php", "/.git/config", "/phpmyadmin/index.php", "/wp-admin/setup-config.php",
        "/admin/config.php", "/cgi-bin/luci", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/.aws/credentials",
        "/server-status", "/actuator/health", "/boaform/admin/formLogin", "/owa/auth/logon.aspx", "/HNAP1/",
        "/wp-content/plugins/wp-file-manager/readme.txt", "/config.json", "/.DS_Store", "/backup.zip",
    ]

    // MARK: Referrers

    static let searchEngines = [
        "https://www.google.com/", "https://www.google.co.uk/", "https://www.google.de/", "https://www.google.fr/",
        "https://www.bing.com/", "https://duckduckgo.com/", "https://search.yahoo.com/", "https://www.ecosia.org/",
        "https://yandex.ru/", "https://search.brave.com/",
    ]

    static let socialReferrers = [
        "https://t.co/", "https://www.facebook.com/", "https://l.facebook.com/", "https://m.facebook.com/",
        "https://www.linkedin.com/", "https://lnkd.in/", "https://www.instagram.com/", "https://www.reddit.com/",
        "https://out.reddit.com/", "https://www.pinterest.com/", "https://www.youtube.com/",
        "android-app://com.google.android.gm/", "android-app://com.slack/",
    ]

    static let otherReferrers = [
        "https://news.ycombinator.com/", "https://blog.example.org/best-gear-2026", "https://www.example.net/forum/",
        "https://partner.example.com/deals?aff=1138", "https://outdoor-magazine.test/reviews/jackets",
        "https://mail.example.com/", "https://www.example-shop.test.example.net/", "https://translate.googleusercontent.com/",
        "https://webcache.example.org/search?q=example-shop", "https://compare.example.com/product/tents",
    ]

    static let oddReferrers = [
        "https://WWW.EXAMPLE-SHOP.TEST/", "http://www.example-shop.test:8080/cart", "https://www.example-shop.test:443/",
        "HTTPS://www.Example-Shop.test/products", "http://203.0.113.7/", "http://198.51.100.23:8000/admin",
        "http://[2001:db8::1]:8080/", "https://192.0.2.10/index.html", "http://localhost:3000/", "https://www.Google.com/",
        "www.google.com", "http://example-shop.test", "https://www.example-shop.test/?", "about:blank",
    ]

    // MARK: User agents

    static let androidDevices = [
        "K", "SM-S918B", "SM-A546B", "Pixel 8", "Pixel 7a", "SM-G991B", "M2101K6G", "CPH2451", "moto g54 5G",
        "SM-A136B", "Pixel 9 Pro", "2201117TG",
    ]
    static let samsungModels = ["SM-S918B", "SM-A546B", "SM-G991B", "SM-S911B", "SM-A346B", "SM-X710"]
    static let macVersions = ["10_15_7", "14_4_1", "13_6_3"]
    static let iosVersions = ["16_7_8", "17_4_1", "17_5", "17_6_1", "18_0", "18_1_1", "18_2", "18_3_2", "18_4"]
    static let windowsTokens = ["Windows NT 10.0; Win64; x64", "Windows NT 10.0; WOW64", "Windows NT 6.1; Win64; x64"]

    static let botAgents = [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot-Image/1.0",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "Mozilla/5.0 (compatible; Applebot/0.1; +http://www.apple.com/go/applebot)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
        "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot)",
        "Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    ]

    // MARK: Personal data to plant (reserved, fictional and published test values only)

    /// Reserved-domain addresses (RFC 2606 / RFC 6761), one plus-tagged. No local part holds a planted name.
    static let emails = [
        "jane.doe@example.com", "john.smith@example.org", "j.bloggs@example.net", "jane+news@example.com",
        "erika.mustermann@mail.example.com", "mario.rossi42@example.org", "ola.nordmann@example.net",
        "fulano.detal@x.test",
    ]

    /// Canonical number, then the ways people write it. Ofcom's drama ranges (020 7946 0xxx, 07700 900xxx),
    /// the US 555-01xx fiction range, and ARCEP's 01 99 00 fiction range.
    static let phones: [(canonical: String, forms: [String])] = [
        ("+442079460958", ["+44 20 7946 0958", "+442079460958", "+44-20-7946-0958", "+44 (20) 7946.0958", "0044 20 7946 0958"]),
        ("02079460958", ["020 7946 0958", "(020) 7946 0958", "020-7946-0958", "020.7946.0958", "02079460958"]),
        ("+447700900123", ["+44 7700 900123", "+447700900123", "+44 (7700) 900-123", "+44.7700.900.123"]),
        ("07700900461", ["07700 900461", "07700-900-461", "(07700) 900461", "07700900461"]),
        ("+12025550173", ["+1-202-555-0173", "+1 (202) 555-0173", "+1.202.555.0173", "+12025550173"]),
        ("5555550142", ["(555) 555-0142", "555-555-0142", "555.555.0142", "555 555 0142"]),
        ("+33199001234", ["+33 1 99 00 12 34", "+33.1.99.00.12.34", "+33-1-99-00-12-34", "+33199001234"]),
        ("0199005678", ["01 99 00 56 78", "01.99.00.56.78", "01-99-00-56-78", "(01) 99 00 56 78"]),
    ]

    /// Card numbers that payment providers publish for testing; all pass the Luhn check.
    static let cards = [
        "4111111111111111", "4242424242424242", "5555555555554444", "2223003122003222", "6011111111111117",
        "3530111333300000", "378282246310005", "30569309025904",
    ]

    /// Famous non-personal SSNs: the Woolworth wallet card's and the one printed in a 1940s SSA pamphlet.
    static let socialSecurityNumbers = ["078051120", "219099999"]

    /// The example IBANs of the IBAN registry and national banking associations (valid check digits).
    static let ibans = [
        "GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300",
        "ES9121000418450200051332",
    ]

    /// Invented names, chosen not to occur inside words, user agents or paths.
    static let firstNames = ["Janelle", "Ottoline", "Evander", "Marisol"]
    static let lastNames = ["Quixotica", "Wobblethorpe", "Fenwickley", "Mustermannova"]

    /// Dates of birth as digits (yyyymmdd).
    static let birthDates = ["19800401", "19751231", "19900715"]

    static let addresses = ["10 Downing Street", "221B Baker Street", "742 Evergreen Terrace"]

    /// Canonical account number (alphanumerics only), then the ways it is written.
    static let accounts: [(canonical: String, forms: [String])] = [
        ("ACC1048576", ["ACC-1048576", "acc1048576", "ACC 1048576", "ACC1048576"]),
        ("CUST77340021", ["CUST-7734-0021", "cust77340021", "CUST 7734 0021"]),
        ("0098765432", ["0098765432", "00-9876-5432", "009 876 5432"]),
        ("1122334455", ["1122334455", "11-2233-4455", "11 22 33 44 55"]),
    ]

    static let usernames = ["wrenfield7", "lunamoth42", "kestrel_ops"]
}
