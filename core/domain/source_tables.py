"""Our own source tables, which the maintained lists (core/domain/data/) lack or get wrong for course creators:
podcast apps, newsletters, webmail, ad click hosts, Google's products that are not its search, Android apps,
utm_source spellings, the mediums of each channel, and the ad click ids. core/domain/sources.py reads them."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.channels import Channel, Kind

# Hosts the maintained lists lack or that we name differently; they win over the lists. Every one matches its
# subdomains too, except where the host itself is a subdomain of a search engine (see `EXACT_HOSTS`).
OUR_HOSTS: dict[Kind, dict[str, tuple[str, ...]]] = {
    Kind.PODCAST: {
        "Apple Podcasts": ("podcasts.apple.com", "itunes.apple.com"),
        "Spotify": ("spotify.com", "spotify.link", "spoti.fi"),
        "Overcast": ("overcast.fm",),
        "Pocket Casts": ("pocketcasts.com", "pca.st"),
        "Castbox": ("castbox.fm",),
        "Castro": ("castro.fm",),
        "Podcast Addict": ("podcastaddict.com",),
        "Podbean": ("podbean.com",),
        "Player FM": ("player.fm",),
        "Google Podcasts": ("podcasts.google.com",),
        "iHeartRadio": ("iheart.com",),
        "Amazon Music": ("music.amazon.com",),
        "Pandora": ("pandora.com",),
        "Deezer": ("deezer.com",),
        "Audible": ("audible.com",),
    },
    Kind.EMAIL: {
        # Webmail: the newsletter's name is not in the referrer, only that it was read in a mailbox.
        "Email": (
            "mail.google.com",
            "inbox.google.com",
            "outlook.live.com",
            "outlook.office.com",
            "outlook.office365.com",
            "outlook.com",
            "mail.yahoo.com",
            "mail.yandex.com",
            "mail.proton.me",
            "mail.protonmail.com",
            "mail.aol.com",
            "mail.zoho.com",
            "e.mail.ru",
            "mail.gmx.net",
            "navigator.gmx.net",
            "mail.web.de",
            "webmail.orange.fr",
            "mail.163.com",
            "mail.qq.com",
            "www.icloud.com",
            "fastmail.com",
            "app.hey.com",
        ),
        # Newsletters: the platform's links and every publication on it are the one platform.
        "Substack": ("substack.com", "substackcdn.com"),
        "Beehiiv": ("beehiiv.com", "mail.beehiiv.com"),
        "ConvertKit": (
            "convertkit.com",
            "convertkit-mail.com",
            "convertkit-mail2.com",
            "convertkit-mail3.com",
            "convertkit-mail4.com",
            "ck.page",
            "kit.com",
            "kit.co",
        ),
        "Mailchimp": ("mailchimp.com", "mailchi.mp", "list-manage.com", "eepurl.com"),
        "MailerLite": ("mailerlite.com", "mlsend.com", "mailerlite.io"),
        "Klaviyo": ("klaviyo.com", "klclick.com", "klclick1.com", "klclick2.com", "klclick3.com"),
        "ActiveCampaign": ("activehosted.com", "activecampaign.com"),
        "Flodesk": ("flodesk.com",),
        "Ghost": ("ghost.io",),
        "Buttondown": ("buttondown.email", "buttondown.com"),
        "Constant Contact": ("constantcontact.com", "rs6.net"),
        "Brevo": ("brevo.com", "sendibt3.com", "sendinblue.com"),
        "AWeber": ("aweber.com",),
        "Drip": ("getdrip.com", "drip.com"),
    },
    Kind.SOCIAL: {
        "X": ("twitter.com", "x.com", "t.co", "tweetdeck.com"),
        "Facebook": ("facebook.com", "fb.com", "fb.me", "messenger.com", "m.me"),
        "Instagram": ("instagram.com",),
        "LinkedIn": ("linkedin.com", "lnkd.in"),
        "Pinterest": ("pinterest.com", "pin.it"),
        "Reddit": ("reddit.com", "redd.it"),
        "Threads": ("threads.net", "threads.com"),
        "Bluesky": ("bsky.app",),
        "Quora": ("quora.com",),
        "Telegram": ("t.me", "telegram.org", "telegram.me"),
        "WhatsApp": ("whatsapp.com", "wa.me"),
        "Linktree": ("linktr.ee",),
        "Stan": ("stan.store",),
        "Beacons": ("beacons.ai",),
        "Medium": ("medium.com",),
        "Tumblr": ("tumblr.com",),
        "Snapchat": ("snapchat.com",),
        "Skool": ("skool.com",),
        "Circle": ("circle.so",),
        "Product Hunt": ("producthunt.com",),
        "Hacker News": ("news.ycombinator.com",),
        "Slack": ("slack.com",),
        "TikTok": ("tiktok.com",),
    },
    Kind.VIDEO: {
        "YouTube": ("youtube.com", "youtu.be", "youtube-nocookie.com"),
        "Vimeo": ("vimeo.com",),
        "Twitch": ("twitch.tv",),
        "Dailymotion": ("dailymotion.com",),
        "Rumble": ("rumble.com",),
        "Wistia": ("wistia.com",),
        "Loom": ("loom.com",),
    },
    Kind.AI: {
        "ChatGPT": ("chatgpt.com", "chat.openai.com", "openai.com"),
        "Perplexity": ("perplexity.ai",),
        "Gemini": ("gemini.google.com", "bard.google.com", "aistudio.google.com"),
        "Claude": ("claude.ai",),
        "Copilot": ("copilot.microsoft.com", "copilot.cloud.microsoft"),
        "Meta AI": ("meta.ai",),
        "Grok": ("grok.com",),
        "DeepSeek": ("chat.deepseek.com",),
        "Mistral Le Chat": ("chat.mistral.ai",),
        "Phind": ("phind.com",),
        "Poe": ("poe.com",),
    },
    Kind.PAID_SEARCH: {
        "Google": ("googleadservices.com", "syndicatedsearch.goog"),
    },
    Kind.DISPLAY: {
        "Google": ("doubleclick.net", "googlesyndication.com", "safeframe.googlesyndication.com"),
        "Taboola": ("taboola.com",),
        "Outbrain": ("outbrain.com",),
    },
    Kind.WEBSITE: {
        # Google's products that are not its search: a link from a shared doc is a referral from that doc.
        "Google Docs": ("docs.google.com",),
        "Google Drive": ("drive.google.com",),
        "Google Classroom": ("classroom.google.com",),
        "Google Sites": ("sites.google.com",),
        "Google Groups": ("groups.google.com",),
        "Google Calendar": ("calendar.google.com",),
        "Google Meet": ("meet.google.com",),
        "Google Forms": ("forms.gle",),
        "Google Chat": ("chat.google.com",),
        "Google Translate": ("translate.google.com", "translate.goog"),
        "Google Play": ("play.google.com",),
        "Google Accounts": ("accounts.google.com",),
        "Wikipedia": ("wikipedia.org",),
        "Notion": ("notion.so", "notion.site"),
        "Teachable": ("teachable.com",),
        "Kajabi": ("mykajabi.com",),
        "Gumroad": ("gumroad.com",),
        "Udemy": ("udemy.com",),
        "Skillshare": ("skillshare.com",),
        "Eventbrite": ("eventbrite.com",),
        "Zoom": ("zoom.us",),
        "Microsoft Teams": ("teams.microsoft.com", "teams.live.com"),
    },
    Kind.SEARCH: {
        "Google": ("google.com", "google.{}", "news.google.com", "news.google.{}", "images.google.com"),
        "Bing": ("bing.com", "cn.bing.com"),
        "DuckDuckGo": ("duckduckgo.com",),
        "Brave": ("search.brave.com",),
        "Ecosia": ("ecosia.org",),
        "Kagi": ("kagi.com",),
        "Startpage": ("startpage.com",),
        "Qwant": ("qwant.com",),
        "Yahoo": ("search.yahoo.com", "{}.search.yahoo.com", "yahoo.com"),
    },
}

# Hosts of our tables that are subdomains of a search engine's domain or a shared one: they match exactly.
EXACT_HOSTS = frozenset(
    {
        "yahoo.com",
        "google.com",
        "google.{}",
        "images.google.com",
        "bing.com",
        "cn.bing.com",
        "outlook.com",
        "www.icloud.com",
        "openai.com",
        "itunes.apple.com",
        "music.amazon.com",
    }
)

# Names in the maintained lists that creators know differently, and entries that are not places for them.
RENAMED = {
    "Twitter": "X",
    "Yahoo!": "Yahoo",
    "Yahoo! Japan": "Yahoo Japan",
    "Vkontakte": "VK",
    "StackOverflow": "Stack Overflow",
    "Deepseek": "DeepSeek",
    "Le Chat": "Mistral Le Chat",
    "You": "You.com",
}
DROPPED_NAMES = frozenset({"Google%2B", "Crawler", "mozbot"})
# Hosts some list calls a search engine only when the referrer carries a search keyword in its path, which a
# browser no longer sends across sites: from these hosts, a visit is a link in an article.
NOT_SEARCH_HOSTS = frozenset({"www.cnn.com", "cnn.com", "wow.com", "{}.wow.com"})
# Matomo calls these social networks; for a creator they are video platforms (GA4 agrees).
VIDEO_NAMES = frozenset({"YouTube", "Vimeo", "bilibili", "Niconico", "Twitcast", "Huya"})

# Android apps that open links report `android-app://<package>` as the referrer.
ANDROID_APPS: dict[str, str] = {
    "com.google.android.youtube": "YouTube",
    "com.instagram.android": "Instagram",
    "com.facebook.katana": "Facebook",
    "com.facebook.orca": "Facebook",
    "com.facebook.lite": "Facebook",
    "com.zhiliaoapp.musically": "TikTok",
    "com.ss.android.ugc.trill": "TikTok",
    "com.twitter.android": "X",
    "com.linkedin.android": "LinkedIn",
    "com.pinterest": "Pinterest",
    "com.reddit.frontpage": "Reddit",
    "com.google.android.gm": "Email",
    "com.microsoft.office.outlook": "Email",
    "com.yahoo.mobile.client.android.mail": "Email",
    "com.google.android.googlequicksearchbox": "Google",
    "org.telegram.messenger": "Telegram",
    "com.whatsapp": "WhatsApp",
    "com.openai.chatgpt": "ChatGPT",
    "ai.perplexity.app.android": "Perplexity",
    "com.google.android.apps.bard": "Gemini",
    "com.anthropic.claude": "Claude",
    "com.spotify.music": "Spotify",
    "au.com.shiftyjelly.pocketcasts": "Pocket Casts",
    "com.bambuna.podcastaddict": "Podcast Addict",
    "fm.castbox.audiobook.radio.podcast": "Castbox",
    "com.substack.app": "Substack",
    "com.discord": "Discord",
    "com.Slack": "Slack",
}

# utm_source spellings that name a source some other way than its name or host (lower case).
UTM_ALIASES: dict[str, str] = {
    "yt": "YouTube",
    "ig": "Instagram",
    "insta": "Instagram",
    "fb": "Facebook",
    "fcb": "Facebook",
    "meta": "Facebook",
    "tw": "X",
    "twitter": "X",
    "tt": "TikTok",
    "tik.tok": "TikTok",
    "li": "LinkedIn",
    "pin": "Pinterest",
    "bsky": "Bluesky",
    "googlesearch": "Google",
    "microsoft": "Bing",
    "email": "Email",
    "e-mail": "Email",
    "mail": "Email",
    "newsletter": "Email",
    "kit": "ConvertKit",
    "convert kit": "ConvertKit",
    "gpt": "ChatGPT",
    "openai": "ChatGPT",
    "chat.openai": "ChatGPT",
    "copilot": "Copilot",
    "bard": "Gemini",
    "apple podcasts": "Apple Podcasts",
    "itunes": "Apple Podcasts",
    "podcast": "Podcast",
    "podcasts": "Podcast",
}
# Spellings that themselves say the click was paid, with the network they name (lower case).
PAID_UTM_ALIASES: dict[str, str] = {
    **dict.fromkeys(("google_ads", "google-ads", "googleads", "gads", "adwords"), "Google"),
    **dict.fromkeys(("bing_ads", "bing-ads", "bingads", "microsoft_ads", "msads"), "Bing"),
    **dict.fromkeys(("youtube_ads", "youtube-ads", "yt-ads", "yt_ads"), "YouTube"),
    **dict.fromkeys(("instagram_ads", "instagram-ads", "ig_ads"), "Instagram"),
    **dict.fromkeys(
        (
            "facebook-ads",
            "facebook_ads",
            "fb-ads",
            "fb_ads",
            "fbads",
            "fbad",
            "facebook_ad",
            "facebook_feed_ad",
            "meta_ads",
            "meta-ads",
        ),
        "Facebook",
    ),
    **dict.fromkeys(("tiktok_ads", "tiktok-ads", "tiktokads"), "TikTok"),
    **dict.fromkeys(("twitter-ads", "twitter_ads", "x-ads"), "X"),
    **dict.fromkeys(("linkedin_ads", "linkedin-ads"), "LinkedIn"),
    **dict.fromkeys(("pinterest_ads", "pinterest-ads"), "Pinterest"),
    **dict.fromkeys(("reddit-ads", "reddit_ads"), "Reddit"),
}
# A generic utm_source naming a channel rather than a place.
GENERIC_SOURCES: dict[str, Kind] = {"Email": Kind.EMAIL, "Podcast": Kind.PODCAST}

PAID_MEDIUMS = frozenset(
    {
        "cpc",
        "ppc",
        "paid",
        "paidsearch",
        "paid_search",
        "paid-search",
        "paidsocial",
        "paid_social",
        "paid-social",
        "paid-video",
        "paid_video",
        "cpv",
        "cpa",
        "cpm_social",
        "ads",
        "ad",
        "sponsored",
    }
)
DISPLAY_MEDIUMS = frozenset({"display", "banner", "cpm", "expandable", "interstitial"})
EMAIL_MEDIUMS = frozenset({"email", "e-mail", "e_mail", "e mail", "newsletter"})
AFFILIATE_MEDIUMS = frozenset({"affiliate", "affiliates", "partner"})
SOCIAL_MEDIUMS = frozenset({"social", "social-network", "social-media", "sm", "social network", "organic_social"})
VIDEO_MEDIUMS = frozenset({"video"})
PODCAST_MEDIUMS = frozenset({"podcast", "podcasts", "audio"})
AI_MEDIUMS = frozenset({"ai", "ai-assistant", "ai_assistant", "llm", "chatbot"})


@dataclass(frozen=True, slots=True)
class ClickId:
    network: str
    channel: Channel | None  # None: the network adds it to organic links too, so it only names the network


# Ad click ids: which network issued them and, when they prove a paid click, the channel.
CLICK_IDS: dict[str, ClickId] = {
    "gclid": ClickId("Google", Channel.PAID_SEARCH),
    "gbraid": ClickId("Google", Channel.PAID_SEARCH),
    "wbraid": ClickId("Google", Channel.PAID_SEARCH),
    "dclid": ClickId("Google", Channel.DISPLAY),
    "msclkid": ClickId("Bing", Channel.PAID_SEARCH),
    "yclid": ClickId("Yandex", Channel.PAID_SEARCH),
    "twclid": ClickId("X", Channel.PAID_SOCIAL),
    "ScCid": ClickId("Snapchat", Channel.PAID_SOCIAL),
    "epik": ClickId("Pinterest", Channel.PAID_SOCIAL),
    "rdt_cid": ClickId("Reddit", Channel.PAID_SOCIAL),
    "fbclid": ClickId("Facebook", None),
    "ttclid": ClickId("TikTok", None),
    "li_fat_id": ClickId("LinkedIn", None),
}
CLICK_ID_PARAMS = tuple(CLICK_IDS)

ORGANIC_BY_KIND = {
    Kind.SEARCH: Channel.ORGANIC_SEARCH,
    Kind.SOCIAL: Channel.ORGANIC_SOCIAL,
    Kind.VIDEO: Channel.ORGANIC_VIDEO,
    Kind.AI: Channel.AI_ASSISTANTS,
    Kind.EMAIL: Channel.EMAIL,
    Kind.PODCAST: Channel.PODCAST,
    Kind.PAID_SEARCH: Channel.PAID_SEARCH,
    Kind.DISPLAY: Channel.DISPLAY,
    Kind.WEBSITE: Channel.REFERRAL,
}

COUNTRY = "{}"  # stands for a country code or a country's second-level suffix (co.uk, com.au) in a host
