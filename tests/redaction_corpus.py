"""Synthetic reports for measuring redaction: reports with planted values, and clean text.

Everything comes from a seeded ``random.Random``, so the figures in docs/redaction.md are the same
on every run. Planted reports are written in eight languages and carry, each, one value of every
structured kind (a phone number, an e-mail address, a card number, an IBAN, an IP address, a URL
with a secret) in one of many real-world formats, the reporter's own name and e-mail address, and
the name of someone else. Clean reports carry only tokens that must come through untouched:
model names, versions, dates, prices, code, ordinary numbers, plain URLs.

All values are invented: the phone numbers sit in real ranges with random digits (or in ranges
kept for fiction), cards and IBANs are random with correct check digits, hosts are example ones.
"""

import ipaddress
import random
import string
import uuid
from dataclasses import dataclass

PLANTED_SEED = 20261128
CLEAN_SEED = 1128


@dataclass(frozen=True)
class Planted:
    """A structured value put in a report. ``secret`` is what must not survive: the value itself,
    or for a URL the password or token it carries."""

    kind: str
    value: str
    secret: str


@dataclass(frozen=True)
class PlantedReport:
    language: str
    text: str
    reporter_name: str
    reporter_email: str
    planted: tuple[Planted, ...]
    own_details: tuple[str, ...]  # the reporter's name, name parts and e-mail, as written
    third_party_names: tuple[str, ...]


@dataclass(frozen=True)
class CleanReport:
    language: str
    text: str
    reporter_name: str
    reporter_email: str
    tokens: tuple[str, ...]


# --- Sentences --------------------------------------------------------------------------------

# One sentence per slot and language. Chinese puts values straight against the words around
# them and uses its own punctuation, as Chinese writers do.
SENTENCES = {
    "en": {
        "intro": "Hello, my name is {name} and I want to report a harmful answer.",
        "own_email": "Please reply to {own_email} if you need more details.",
        "own_user": "My username there is {own_user}.",
        "email": "The chatbot told me to write to {email} for a refund.",
        "phone": "It then printed a phone number, {phone}, and said it was mine.",
        "card": "Worse, it repeated my card number {card} back to me.",
        "iban": "It also suggested I send money to {iban} to 'verify' my account.",
        "ip": "The log showed the request came from {ip}.",
        "url": "It sent me this link: {url} which should never have been shared.",
        "other": "My colleague {other} saw the same output.",
        "signature": "Thanks, {first}",
    },
    "fr": {
        "intro": "Bonjour, je m'appelle {name} et je souhaite signaler une réponse dangereuse.",
        "own_email": "Vous pouvez me répondre à {own_email}.",
        "own_user": "Mon identifiant est {own_user}.",
        "email": "Le modèle m'a demandé d'écrire à {email} pour être remboursé.",
        "phone": "Il a ensuite affiché un numéro, {phone}, en disant que c'était le mien.",
        "card": "Pire, il a recopié mon numéro de carte {card} dans sa réponse.",
        "iban": "Il m'a conseillé de virer de l'argent sur le compte {iban}.",
        "ip": "Le journal indique que la requête venait de {ip}.",
        "url": "Il m'a envoyé ce lien : {url} qui n'aurait jamais dû être partagé.",
        "other": "Ma collègue {other} a vu la même réponse.",
        "signature": "Merci, {first}",
    },
    "de": {
        "intro": "Guten Tag, mein Name ist {name} und ich möchte eine schädliche Antwort melden.",
        "own_email": "Bitte antworten Sie an {own_email}.",
        "own_user": "Mein Benutzername ist {own_user}.",
        "email": "Der Chatbot sagte, ich solle an {email} schreiben.",
        "phone": "Dann gab er die Telefonnummer {phone} aus und behauptete, sie gehöre mir.",
        "card": "Schlimmer noch: Er wiederholte meine Kartennummer {card}.",
        "iban": "Er schlug vor, Geld auf das Konto {iban} zu überweisen.",
        "ip": "Im Protokoll stand die Adresse {ip}.",
        "url": "Er schickte mir diesen Link: {url}",
        "other": "Mein Kollege {other} hat dieselbe Ausgabe gesehen.",
        "signature": "Viele Grüße, {first}",
    },
    "es": {
        "intro": "Hola, me llamo {name} y quiero denunciar una respuesta dañina.",
        "own_email": "Pueden responderme a {own_email}.",
        "own_user": "Mi usuario es {own_user}.",
        "email": "El asistente me dijo que escribiera a {email} para un reembolso.",
        "phone": "Luego mostró el teléfono {phone} y dijo que era el mío.",
        "card": "Peor aún, repitió mi número de tarjeta {card}.",
        "iban": "Me sugirió transferir dinero a la cuenta {iban}.",
        "ip": "El registro mostraba la dirección {ip}.",
        "url": "Me envió este enlace: {url} que nunca debió compartirse.",
        "other": "Mi compañera {other} vio la misma respuesta.",
        "signature": "Gracias, {first}",
    },
    "pt-BR": {
        "intro": "Olá, meu nome é {name} e quero denunciar uma resposta prejudicial.",
        "own_email": "Podem me responder em {own_email}.",
        "own_user": "Meu usuário é {own_user}.",
        "email": "O assistente mandou eu escrever para {email} para pedir reembolso.",
        "phone": "Depois mostrou o telefone {phone} dizendo que era meu.",
        "card": "Pior, repetiu o número do meu cartão {card}.",
        "iban": "Sugeriu que eu transferisse dinheiro para {iban}.",
        "ip": "O registro mostrava o endereço {ip}.",
        "url": "Ele me enviou este link: {url} que nunca deveria ter sido compartilhado.",
        "other": "Minha colega {other} viu a mesma resposta.",
        "signature": "Obrigado, {first}",
    },
    "ar": {
        "intro": "مرحبا، اسمي {name} وأريد الإبلاغ عن إجابة ضارة.",
        "own_email": "يمكنكم الرد على {own_email} .",
        "own_user": "اسم المستخدم الخاص بي هو {own_user} .",
        "email": "طلب مني المساعد أن أكتب إلى {email} لاسترداد المبلغ.",
        "phone": "ثم عرض رقم الهاتف {phone} وقال إنه رقمي.",
        "card": "والأسوأ أنه كرر رقم بطاقتي {card} .",
        "iban": "واقترح أن أحول المال إلى الحساب {iban} .",
        "ip": "أظهر السجل أن الطلب جاء من {ip} .",
        "url": "أرسل لي هذا الرابط: {url}",
        "other": "زميلي {other} رأى نفس الإجابة.",
        "signature": "شكرا، {first}",
    },
    "zh": {
        "intro": "你好，我叫{name}，我想举报一个有害的回答。",  # noqa: RUF001 - Chinese punctuation
        "own_email": "请回复到{own_email}。",
        "own_user": "我的用户名是{own_user}。",
        "email": "助手让我写信给{email}申请退款。",
        "phone": "然后它显示了电话号码{phone}，说是我的。",  # noqa: RUF001 - Chinese punctuation
        "card": "更糟的是，它重复了我的卡号{card}。",  # noqa: RUF001 - Chinese punctuation
        "iban": "它建议我把钱转到账户{iban}。",
        "ip": "日志显示请求来自{ip}。",
        "url": "它给我发了这个链接：{url}。",  # noqa: RUF001 - Chinese punctuation
        "other": "我的同事{other}也看到了同样的输出。",
        "signature": "谢谢，{first}",  # noqa: RUF001 - Chinese punctuation
    },
    "hi": {
        "intro": "नमस्ते, मेरा नाम {name} है और मैं एक हानिकारक जवाब की शिकायत करना चाहता हूँ।",
        "own_email": "कृपया मुझे {own_email} पर जवाब दें।",
        "own_user": "मेरा यूज़रनेम {own_user} है।",
        "email": "सहायक ने मुझे रिफ़ंड के लिए {email} पर लिखने को कहा।",
        "phone": "फिर उसने फ़ोन नंबर {phone} दिखाया और कहा कि यह मेरा है।",
        "card": "इससे भी बुरा, उसने मेरा कार्ड नंबर {card} दोहराया।",
        "iban": "उसने सुझाव दिया कि मैं {iban} खाते में पैसे भेजूँ।",
        "ip": "लॉग में अनुरोध {ip} से आया दिखा।",
        "url": "उसने मुझे यह लिंक भेजा: {url}",
        "other": "मेरी सहकर्मी {other} ने भी वही जवाब देखा।",
        "signature": "धन्यवाद, {first}",
    },
}

# (name, e-mail) of reporters, per language. Short name parts (Ana, Li, Doe) are never planted
# alone: the engine only promises to find parts of four letters or more (docs/redaction.md).
REPORTERS = {
    "en": [
        ("Jane Doe", "jane.doe87@example.com"),
        ("Michael Thompson", "mthompson@example.net"),
        ("Emily Carter", "emily_carter@mail.example.org"),
        ("Olivia Bennett", "olivia.b@example.co.uk"),
    ],
    "fr": [
        ("Marie Dubois", "marie.dubois@exemple.fr"),
        ("Jean-Pierre Lefèvre", "jp.lefevre@exemple.fr"),
        ("Amélie Rousseau", "amelie.rousseau75@exemple.fr"),
        ("François Girard", "fgirard@exemple.fr"),
    ],
    "de": [
        ("Jürgen Müller", "juergen.mueller@beispiel.de"),
        ("Anna Schneider", "anna.schneider@beispiel.de"),
        ("Lukas Weber", "lukas.weber@beispiel.at"),
        ("Sophie Schäfer", "s.schaefer@beispiel.ch"),
    ],
    "es": [
        ("José García", "jose.garcia@ejemplo.es"),
        ("Lucía Fernández", "lucia.fernandez@ejemplo.es"),
        ("Carmen Ruiz", "carmen.ruiz@ejemplo.mx"),
        ("Javier Morales", "jmorales@ejemplo.es"),
    ],
    "pt-BR": [
        ("João Silva", "joao.silva@exemplo.com.br"),
        ("Ana Souza", "ana.souza@exemplo.com.br"),
        ("Luiz Pereira", "luiz.pereira@exemplo.com.br"),
        ("Fernanda Costa", "fernanda.costa@exemplo.com.br"),
    ],
    "ar": [
        ("محمد العلي", "m.alali@example.sa"),
        ("فاطمة الزهراء", "fatima.z@example.ae"),
        ("أحمد حسن", "ahmed.hassan@example.eg"),
        ("ليلى منصور", "layla.mansour@example.sa"),
    ],
    "zh": [
        ("王伟", "wangwei88@example.cn"),
        ("李娜", "lina.li@example.cn"),
        ("张敏", "zhangmin@example.com"),
        ("刘洋", "liuyang2026@example.cn"),
    ],
    "hi": [
        ("प्रिया शर्मा", "priya.sharma@example.in"),
        ("राहुल वर्मा", "rahul.verma@example.in"),
        ("Anita Singh", "anita.singh@example.in"),
        ("Rahul Verma", "rverma@example.in"),
    ],
}

# Other people named in reports (the engine does not look for these: they are measured).
THIRD_PARTY_NAMES = {
    "en": ["Sarah Connor", "David Miller", "Dr. Karen Lee", "Tom Hughes", "Grace Wilson"],
    "fr": ["Claire Martin", "Nicolas Bernard", "Mme Sophie Laurent", "Luc Moreau", "Inès Petit"],
    "de": ["Thomas Becker", "Frau Petra Wagner", "Stefan Hoffmann", "Katrin Koch", "Jonas Wolf"],
    "es": ["Pablo Sánchez", "Elena Romero", "Sr. Diego Torres", "Marta Navarro", "Raúl Gil"],
    "pt-BR": ["Carlos Oliveira", "Beatriz Lima", "Rafael Santos", "Juliana Alves", "Pedro Rocha"],
    "ar": ["خالد يوسف", "نورة السعيد", "عمر فاروق", "سارة إبراهيم", "يوسف الحربي"],
    "zh": ["陈静", "杨磊", "赵丽", "黄涛", "周杰"],
    "hi": ["अमित कुमार", "सुनीता देवी", "Vikram Patel", "नेहा गुप्ता", "Arjun Rao"],
}


# --- Structured values ------------------------------------------------------------------------


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


# Phone numbers as people write them: international and national, grouped in the local way.
# Each entry is a format with ``#`` for a random digit.
PHONE_FORMATS = [
    "+44 20 7946 0###",  # London, drama range
    "020 7946 0###",
    "+44 7911 ######",
    "07911 ######",
    "+44 7700 900###",  # mobile range kept for fiction
    "(415) 555-01##",
    "415-555-01##",
    "415.555.01##",
    "+1 415 555 01##",
    "+1-212-555-01##",
    "06 ## ## ## ##",
    "06.##.##.##.##",
    "+33 6 ## ## ## ##",
    "0033 6 ## ## ## ##",
    "01 42 ## ## ##",
    "+49 30 901820",
    "+49 30 9018####",
    "030 9018####",
    "0151 2345####",
    "+49 151 2345####",
    "0049 30 9018####",
    "+91 98765 4####",
    "98765 4####",
    "+86 138 #### ####",
    "138 #### ####",
    "138########",
    "+966 50 ### ####",
    "050 ### ####",
    "+971 50 ### ####",
    "+20 10 #### ####",
    "+55 11 9####-####",
    "(11) 9####-####",
    "+34 612 ## ## ##",
    "612 ## ## ##",
    "+39 06 6982 ####",
    "333 ### ####",
    "+48 512 ### ###",
    "512 ### ###",
]
ARABIC_INDIC = str.maketrans(string.digits, "٠١٢٣٤٥٦٧٨٩")


def phone_number(rng: random.Random, language: str) -> str:
    number = "".join(
        rng.choice(string.digits) if c == "#" else c for c in rng.choice(PHONE_FORMATS)
    )
    if language == "ar" and rng.random() < 0.25:
        return number.translate(ARABIC_INDIC)  # as typed on an Arabic keyboard
    return number


def luhn_complete(prefix_and_body: str) -> str:
    """The number with its Luhn check digit appended."""
    total = 0
    for position, digit in enumerate(reversed(prefix_and_body)):
        value = int(digit)
        if position % 2 == 0:  # doubled: the check digit will sit to its right
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return prefix_and_body + str((10 - total % 10) % 10)


# (prefix, length, grouping) of card networks; grouping None means four by four.
CARD_NETWORKS = [
    ("4", 16, None),  # Visa
    ("4", 13, None),  # Visa, old 13-digit numbers
    ("4", 19, None),
    ("51", 16, None),  # Mastercard
    ("55", 16, None),
    ("2221", 16, None),  # Mastercard 2-series
    ("2720", 16, None),
    ("34", 15, (4, 6, 5)),  # American Express
    ("37", 15, (4, 6, 5)),
    ("6011", 16, None),  # Discover
    ("35", 16, None),  # JCB
    ("62", 16, None),  # UnionPay
    ("36", 14, (4, 6, 4)),  # Diners Club
]
KNOWN_TEST_CARDS = ["4111111111111111", "5555555555554444", "378282246310005", "4242424242424242"]


def card_number(rng: random.Random) -> str:
    if rng.random() < 0.15:
        number = rng.choice(KNOWN_TEST_CARDS)
        grouping = (4, 6, 5) if len(number) == 15 else None
    else:
        prefix, length, grouping = rng.choice(CARD_NETWORKS)
        number = luhn_complete(prefix + digits(rng, length - len(prefix) - 1))
    separator = rng.choice(["", " ", " ", "-"])
    sizes = grouping or [4] * (len(number) // 4) + ([len(number) % 4] if len(number) % 4 else [])
    groups, position = [], 0
    for size in sizes:
        groups.append(number[position : position + size])
        position += size
    return separator.join(groups)


def alnum(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(count))


# Country -> how to make its BBAN (the national account number inside the IBAN).
IBAN_BBANS = {
    "DE": lambda rng: digits(rng, 18),
    "FR": lambda rng: digits(rng, 10) + alnum(rng, 11) + digits(rng, 2),
    "GB": lambda rng: rng.choice(["WEST", "BARC", "LOYD", "NWBK"]) + digits(rng, 14),
    "ES": lambda rng: digits(rng, 20),
    "IT": lambda rng: rng.choice(string.ascii_uppercase) + digits(rng, 10) + alnum(rng, 12),
    "NL": lambda rng: rng.choice(["ABNA", "INGB", "RABO"]) + digits(rng, 10),
    "SA": lambda rng: digits(rng, 2) + alnum(rng, 18),
}


def iban(rng: random.Random) -> str:
    country = rng.choice(list(IBAN_BBANS))
    bban = IBAN_BBANS[country](rng)
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    compact = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    if rng.random() < 0.3:
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    address = ipaddress.IPv6Address(rng.getrandbits(128))
    if rng.random() < 0.5:  # a zero run in the middle, written with ::
        address = ipaddress.IPv6Address(int(address) & ~(0xFFFF_FFFF << 32))
    form = rng.choice([address.compressed, address.exploded, address.compressed.upper()])
    return form


URLSAFE = string.ascii_letters + string.digits + "-_"


def token(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(URLSAFE) for _ in range(count))


def hex_token(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(count))


def uuid4(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def secret_url(rng: random.Random) -> tuple[str, str]:
    """A URL that carries a secret, and the secret."""
    host = rng.choice(["example.com", "api.example.net", "files.example.org", "app.example.io"])
    password = rng.choice(["hunter2", "Tr0ub4dor3", "s3cr3tPass", "letmein2026", "correcthorse9"])
    long_token = token(rng, rng.randint(24, 43))
    choices = [
        (f"https://{rng.choice(['user', 'admin', 'jdoe'])}:{password}@{host}/x", password),
        (f"ftp://backup:{password}@{host}/pub/dump.sql", password),
        (f"https://{host}/v1/items?access_token={long_token}", long_token),
        (f"https://{host}/callback#access_token={long_token}&token_type=bearer", long_token),
        (f"https://{host}/reset?token={long_token[:20]}", long_token[:20]),
        (f"https://{host}/api/search?q=llama&api_key={long_token}", long_token),
        (f"https://{host}/api?apiKey={long_token}", long_token),
        (f"https://{host}/login?user=me&password={password}", password),
        (f"www.{host}/account?session={long_token}", long_token),
        (f"https://{host}/oauth/callback?code={long_token[:24]}&state=xyz", long_token[:24]),
        (f"https://{host}/download/report.pdf?expires=1767225600&sig={long_token}", long_token),
        (
            f"https://bucket.s3.amazonaws.com/doc.txt?X-Amz-Credential=AKIA{alnum(rng, 16)}"
            f"&X-Amz-Signature={(signature := hex_token(rng, 64))}",
            signature,
        ),
        (
            f"https://hooks.slack.com/services/T{alnum(rng, 8)}/B{alnum(rng, 8)}/"
            f"{(hook := token(rng, 24).replace('-', 'a').replace('_', 'b'))}",
            hook,
        ),
        (f"https://{host}/share/{long_token}", long_token),
        (f"https://chat.example.com/share/{(share_id := str(uuid4(rng)))}", share_id),
        (f"https://{host}/d/{(share := hex_token(rng, 32))}/view", share),
    ]
    return rng.choice(choices)


def other_email(rng: random.Random) -> str:
    local = rng.choice(["support", "refunds", "billing", "help.desk", "no-reply", "kontakt"])
    domain = rng.choice(["shop-example.com", "example.org", "beispiel.de", "exemple.fr"])
    if rng.random() < 0.3:
        local += str(rng.randint(1, 999))
    return f"{local}@{domain}"


# --- Planted reports --------------------------------------------------------------------------

STRUCTURED_KINDS = ["email", "phone", "card", "iban", "ip", "url"]


def name_parts(name: str) -> list[str]:
    """The parts of a name the engine promises to find alone: four letters or more."""
    parts = [part for word in name.split() for part in word.split("-")]
    return [part for part in parts if sum(c.isalpha() for c in part) >= 4]


def planted_reports(count: int = 320, seed: int = PLANTED_SEED) -> list[PlantedReport]:
    rng = random.Random(seed)
    languages = list(SENTENCES)
    return [planted_report(rng, languages[index % len(languages)]) for index in range(count)]


def planted_report(rng: random.Random, language: str) -> PlantedReport:
    sentences = SENTENCES[language]
    reporter_name, reporter_email = rng.choice(REPORTERS[language])
    written_name = rng.choice([reporter_name, reporter_name.upper(), reporter_name.lower()])
    parts = name_parts(reporter_name)
    first = rng.choice(parts) if parts else reporter_name
    own_user = reporter_email.split("@")[0]
    others = rng.sample(THIRD_PARTY_NAMES[language], rng.choice([1, 1, 2]))

    planted = []
    body = []
    for kind in STRUCTURED_KINDS:
        if kind == "url":
            value, secret = secret_url(rng)
        else:
            value = {
                "email": other_email,
                "phone": lambda r: phone_number(r, language),
                "card": card_number,
                "iban": iban,
                "ip": ip_address,
            }[kind](rng)
            secret = value
        planted.append(Planted(kind, value, secret))
        body.append(sentences[kind].format(**{kind: value}))
    body.append(sentences["own_email"].format(own_email=reporter_email))
    if sum(c.isalpha() for c in own_user) >= 4:
        body.append(sentences["own_user"].format(own_user=own_user))
    body += [sentences["other"].format(other=other) for other in others]
    rng.shuffle(body)

    text = " ".join(
        [
            sentences["intro"].format(name=written_name),
            *body,
            sentences["signature"].format(first=first),
        ]
    )
    own_details = {written_name, first, reporter_email}
    if sum(c.isalpha() for c in own_user) >= 4:
        own_details.add(own_user)
    return PlantedReport(
        language=language,
        text=text,
        reporter_name=reporter_name,
        reporter_email=reporter_email,
        planted=tuple(planted),
        own_details=tuple(sorted(own_details)),
        third_party_names=tuple(others),
    )


# --- Clean reports ----------------------------------------------------------------------------

# Tokens that must survive redaction, by what they are.
CLEAN_TOKENS = {
    "model names": [
        "GPT-4o",
        "Llama-3.1-70B",
        "Claude 3.5 Sonnet",
        "Mistral-7B-Instruct-v0.2",
        "Gemini 1.5 Pro",
        "Qwen2.5-72B",
        "Phi-3-mini-4k",
        "Mixtral-8x7B",
        "DeepSeek-V3",
        "Gemma-2-9b-it",
        "Whisper large-v3",
        "Stable Diffusion XL 1.0",
    ],
    "versions": [
        "2.3.1",
        "v1.12.0",
        "3.0",
        "Python 3.12.1",
        "Ubuntu 24.04",
        "torch==2.3.1",
        "iOS 18.1",
        "Node 20.11.0",
        "Chrome 131.0.6778.86",
        "Windows 11 build 26100.2314",
    ],
    "dates and times": [
        "2026-11-28",
        "28/11/2026",
        "11/28/2026",
        "28.11.2026",
        "Nov 28 2026",
        "Thursday, 28 November 2026",
        "28 novembre 2026",
        "2026年11月28日",
        "2026-11-28T10:30:00Z",
        "Q4 2026",
        "2026-W48",
        "10:30",
        "10:30 AM",
        "23:59:59",
        "14h30",
    ],
    "prices": [
        "$19.99",
        "€1,299.00",
        "1 299,00 €",
        "£450",
        "¥12,800",
        "R$ 1.299,90",
        "₹4,999",
        "CHF 49.90",
        "9,99 €",
        "USD 2,500",
    ],
    "code": [
        "for i in range(10):",
        "x = 42",
        "SELECT id FROM t WHERE n > 100",
        "arr[1::2]",
        "std::vector<int>",
        "max_tokens=4096",
        "temperature=0.7",
        "docker run -p 8080:80 nginx",
        "localhost:8080",
        "git checkout -b fix/issue-1234",
        "chmod 755 script.sh",
        "np.zeros((3, 4))",
        "0x7fff5fbff8a0",
        "if (a >= 0.5) return;",
    ],
    "numbers": [
        "42",
        "3.14",
        "1,000,000",
        "15%",
        "0.001",
        "65536",
        "128k",
        "7 billion",
        "10 000 000",
        "100 000",
        "1.5M",
        "-273.15",
        "6.022e23",
        "12,5 %",
        "3 × 4 = 12",  # noqa: RUF001 - a multiplication sign
        "99.9%",
        "80GB",
        "1080p",
        "2147483647",
    ],
    "plain URLs": [
        "https://example.org/docs/page",
        "https://example.org/docs/page#section-2",
        "https://github.com/pallets/flask/issues/5432",
        "https://arxiv.org/abs/2303.08774",
        "https://huggingface.co/meta-llama/Llama-3.1-70B",
        "https://www.example.com/search?q=llama&page=2",
        "https://example.org/2026/11/28/release-notes",
        "https://en.wikipedia.org/wiki/Luhn_algorithm",
        "https://docs.python.org/3/library/re.html",
    ],
    "identifiers": [
        "abc123",
        "9f3e2a1",
        "#12345",
        "PR #5432",
        "order 12345678",
        "ISBN 978-3-16-148410-0",
        "EAN 4006381333931",
        "CVE-2024-3094",
        "550e8400-e29b-41d4-a716-446655440000",
        "RP-7K3M-Q9P2",
        "HTTP 404",
        "UTF-8",
        "x86_64",
    ],
}

CLEAN_FRAMES = {
    "en": ["The answer mentioned {token} correctly.", "I tested it with {token} yesterday."],
    "fr": ["La réponse citait {token} sans erreur.", "J'ai essayé avec {token} hier."],
    "de": ["Die Antwort nannte {token} richtig.", "Ich habe es gestern mit {token} getestet."],
    "es": ["La respuesta mencionaba {token} correctamente.", "Lo probé ayer con {token} ."],
    "pt-BR": ["A resposta citou {token} corretamente.", "Testei ontem com {token} ."],
    "ar": ["ذكرت الإجابة {token} بشكل صحيح.", "جربت ذلك أمس مع {token} ."],
    "zh": ["回答正确地提到了{token}。", "我昨天用{token}测试过。"],
    "hi": ["जवाब में {token} सही लिखा था।", "मैंने कल {token} के साथ परखा।"],
}


def clean_reports(count: int = 300, seed: int = CLEAN_SEED) -> list[CleanReport]:
    """Reports made only of clean tokens in ordinary sentences. Each is redacted on behalf of a
    reporter (whose name is not in it), so the name rule runs too."""
    rng = random.Random(seed)
    tokens = [token for group in CLEAN_TOKENS.values() for token in group]
    languages = list(CLEAN_FRAMES)
    reports = []
    for index in range(count):
        language = languages[index % len(languages)]
        chosen = [tokens[(index * 6 + offset) % len(tokens)] for offset in range(6)]
        rng.shuffle(chosen)
        text = " ".join(rng.choice(CLEAN_FRAMES[language]).format(token=t) for t in chosen)
        reporter_name, reporter_email = rng.choice(REPORTERS[language])
        reports.append(CleanReport(language, text, reporter_name, reporter_email, tuple(chosen)))
    return reports


def sample_text(length: int = 10_000) -> str:
    """About ``length`` characters of planted reports, for timing ``redact`` on one long text."""
    text = ""
    for report in planted_reports(count=200, seed=7):
        if len(text) >= length:
            break
        text += report.text + "\n\n"
    return text[:length]
