// The simulated apps' own words in the four languages (they are other sites: they decide
// their language from the browser's Accept-Language, as a school's app would, and SLS
// passes it on to the IdP as OIDC ui_locales). Plain strings with {name} placeholders;
// the key set is checked by test/messages/catalogues.test.ts.
export type SimLanguage = 'en' | 'zh' | 'ms' | 'ta';

const TAGS: Record<SimLanguage, string> = { en: 'en-SG', zh: 'zh-Hans-SG', ms: 'ms-SG', ta: 'ta-SG' };

export const SIM_MESSAGES = {
  en: {
    'sls.title': 'Student Learning Space',
    'sls.simulated': '(simulated relying party)',
    'sls.welcome': 'Welcome to SLS',
    'sls.intro': 'Sign in with your MIMS account to see your assignments.',
    'sls.sign_in': 'Sign in with MIMS',
    'sls.assignments_title': 'SLS – Assignments',
    'sls.assignments': 'Your assignments',
    'sls.claims': 'ID token claims (for testers)',
    'sign_out': 'Sign out',
    'error.title': 'Error',
    'error.heading': 'Something went wrong',
    'back': 'Back',
    'error.not_started': 'This sign-in was not started here. Please try again.',
    'error.failed.sign_in': 'Sign-in failed: {detail}',
    'error.failed.start': 'Starting the sign-in failed: {detail}',
    'error.failed.sign_out': 'Signing out failed: {detail}',
    'error.failed.slo': 'Single logout failed: {detail}',
    'ws.simulated': '(simulated SAML service provider)',
    'ws.sign_in_title': 'Sign in',
    'ws.sign_in': 'Sign in',
    'ws.sign_in_intro': 'to continue to your Student iCON workspace',
    'ws.email': 'Student iCON email address',
    'ws.directed': 'You will be directed to the MIMS Portal to sign in with your MIMS login ID and password.',
    'ws.next': 'Next',
    'ws.dashboard_title': 'Dashboard',
    'ws.your_apps': 'Your apps',
    'ws.lower_primary': 'Certain apps such as Gmail are not available to students in Primary 1 to 3.',
    'ws.chat_disabled': 'Google Chat has been disabled till further notice.',
    'ws.saml_details': 'SAML details (for testers)',
    'ws.signed_out_title': 'Signed out',
    'ws.signed_out': 'Signed out',
    'ws.signed_out_text': 'You have signed out of Student iCON and of the MIMS Portal.',
    'ws.sign_in_again': 'Sign in again',
    'ws.welcome': 'Welcome to your new account',
    'ws.welcome_1': 'Welcome to your new account: {email}. Your students.edu.sg administrator decides which Google Workspace and other Google services you may access using this account.',
    'ws.welcome_2': 'Your organization administrator manages this account and any data associated with this account. This means that your administrator can access and process your data, including the contents of your communications, how you interact with services, or the privacy settings on your account. Your administrator can also delete your account, or restrict you from accessing any data associated with this account.',
    'ws.welcome_3': 'Your use of services with this account is also governed by your organization\u2019s internal policies.',
    'ws.understand': 'I understand',
  },
  zh: {
    'sls.title': '学生学习平台',
    'sls.simulated': '（模拟依赖方）',
    'sls.welcome': '欢迎来到 SLS',
    'sls.intro': '请用你的 MIMS 账户登录，查看你的作业。',
    'sls.sign_in': '用 MIMS 登录',
    'sls.assignments_title': 'SLS – 作业',
    'sls.assignments': '你的作业',
    'sls.claims': 'ID 令牌声明（供测试人员）',
    'sign_out': '退出登录',
    'error.title': '错误',
    'error.heading': '出了点问题',
    'back': '返回',
    'error.not_started': '这次登录不是从这里开始的。请再试一次。',
    'error.failed.sign_in': '登录失败：{detail}',
    'error.failed.start': '无法开始登录：{detail}',
    'error.failed.sign_out': '退出登录失败：{detail}',
    'error.failed.slo': '单点退出登录失败：{detail}',
    'ws.simulated': '（模拟 SAML 服务提供方）',
    'ws.sign_in_title': '登录',
    'ws.sign_in': '登录',
    'ws.sign_in_intro': '继续使用你的 Student iCON 工作区',
    'ws.email': 'Student iCON 电子邮件地址',
    'ws.directed': '你会被带到 MIMS 门户，用你的 MIMS 登录账号和密码登录。',
    'ws.next': '下一步',
    'ws.dashboard_title': '主页',
    'ws.your_apps': '你的应用',
    'ws.lower_primary': '小一至小三的学生不能使用某些应用，例如 Gmail。',
    'ws.chat_disabled': 'Google Chat 已停用，直到另行通知。',
    'ws.saml_details': 'SAML 详情（供测试人员）',
    'ws.signed_out_title': '已退出登录',
    'ws.signed_out': '已退出登录',
    'ws.signed_out_text': '你已经退出 Student iCON 和 MIMS 门户。',
    'ws.sign_in_again': '重新登录',
    'ws.welcome': '欢迎使用你的新账户',
    'ws.welcome_1': '欢迎使用你的新账户：{email}。你的 students.edu.sg 管理员决定你可以用这个账户使用哪些 Google Workspace 和其他 Google 服务。',
    'ws.welcome_2': '你的机构管理员管理这个账户以及与它相关的所有数据。这表示管理员可以查看和处理你的数据，包括你的通信内容、你如何使用服务，以及账户的隐私设置。管理员也可以删除你的账户，或限制你查看与这个账户相关的任何数据。',
    'ws.welcome_3': '你使用这个账户的服务时，也要遵守你所在机构的内部规定。',
    'ws.understand': '我明白了',
  },
  ms: {
    'sls.title': 'Ruang Pembelajaran Pelajar',
    'sls.simulated': '(pihak bergantung simulasi)',
    'sls.welcome': 'Selamat datang ke SLS',
    'sls.intro': 'Log masuk dengan akaun MIMS anda untuk melihat tugasan anda.',
    'sls.sign_in': 'Log masuk dengan MIMS',
    'sls.assignments_title': 'SLS – Tugasan',
    'sls.assignments': 'Tugasan anda',
    'sls.claims': 'Tuntutan token ID (untuk penguji)',
    'sign_out': 'Log keluar',
    'error.title': 'Ralat',
    'error.heading': 'Ada sesuatu yang tidak kena',
    'back': 'Kembali',
    'error.not_started': 'Log masuk ini tidak dimulakan di sini. Sila cuba lagi.',
    'error.failed.sign_in': 'Log masuk gagal: {detail}',
    'error.failed.start': 'Log masuk tidak dapat dimulakan: {detail}',
    'error.failed.sign_out': 'Log keluar gagal: {detail}',
    'error.failed.slo': 'Log keluar tunggal gagal: {detail}',
    'ws.simulated': '(pembekal perkhidmatan SAML simulasi)',
    'ws.sign_in_title': 'Log masuk',
    'ws.sign_in': 'Log masuk',
    'ws.sign_in_intro': 'untuk terus ke ruang kerja Student iCON anda',
    'ws.email': 'Alamat e-mel Student iCON',
    'ws.directed': 'Anda akan dibawa ke Portal MIMS untuk log masuk dengan ID log masuk dan kata laluan MIMS anda.',
    'ws.next': 'Seterusnya',
    'ws.dashboard_title': 'Papan pemuka',
    'ws.your_apps': 'Aplikasi anda',
    'ws.lower_primary': 'Sesetengah aplikasi seperti Gmail tidak tersedia untuk pelajar Darjah 1 hingga 3.',
    'ws.chat_disabled': 'Google Chat telah dinyahdayakan sehingga diberitahu kelak.',
    'ws.saml_details': 'Butiran SAML (untuk penguji)',
    'ws.signed_out_title': 'Telah log keluar',
    'ws.signed_out': 'Telah log keluar',
    'ws.signed_out_text': 'Anda telah log keluar daripada Student iCON dan Portal MIMS.',
    'ws.sign_in_again': 'Log masuk semula',
    'ws.welcome': 'Selamat datang ke akaun baharu anda',
    'ws.welcome_1': 'Selamat datang ke akaun baharu anda: {email}. Pentadbir students.edu.sg anda menentukan Google Workspace dan perkhidmatan Google lain yang boleh anda gunakan dengan akaun ini.',
    'ws.welcome_2': 'Pentadbir organisasi anda mengurus akaun ini dan semua data yang berkaitan dengannya. Ini bermakna pentadbir anda boleh mengakses dan memproses data anda, termasuk kandungan komunikasi anda, cara anda menggunakan perkhidmatan, atau tetapan privasi akaun anda. Pentadbir anda juga boleh memadam akaun anda, atau menghalang anda daripada mengakses apa-apa data yang berkaitan dengan akaun ini.',
    'ws.welcome_3': 'Penggunaan perkhidmatan dengan akaun ini juga tertakluk kepada dasar dalaman organisasi anda.',
    'ws.understand': 'Saya faham',
  },
  ta: {
    'sls.title': 'மாணவர் கற்றல் தளம்',
    'sls.simulated': '(மாதிரி சார்பு தரப்பு)',
    'sls.welcome': 'SLS-க்கு வரவேற்கிறோம்',
    'sls.intro': 'உங்கள் பணிகளைப் பார்க்க உங்கள் MIMS கணக்கைக் கொண்டு உள்நுழையுங்கள்.',
    'sls.sign_in': 'MIMS மூலம் உள்நுழை',
    'sls.assignments_title': 'SLS – பணிகள்',
    'sls.assignments': 'உங்கள் பணிகள்',
    'sls.claims': 'ID டோக்கன் விவரங்கள் (சோதனையாளர்களுக்கு)',
    'sign_out': 'வெளியேறு',
    'error.title': 'பிழை',
    'error.heading': 'ஏதோ தவறு நடந்துவிட்டது',
    'back': 'பின்செல்',
    'error.not_started': 'இந்த உள்நுழைவு இங்கே தொடங்கப்படவில்லை. மீண்டும் முயலுங்கள்.',
    'error.failed.sign_in': 'உள்நுழைவு தோல்வியடைந்தது: {detail}',
    'error.failed.start': 'உள்நுழைவைத் தொடங்க முடியவில்லை: {detail}',
    'error.failed.sign_out': 'வெளியேறுவது தோல்வியடைந்தது: {detail}',
    'error.failed.slo': 'ஒற்றை வெளியேற்றம் தோல்வியடைந்தது: {detail}',
    'ws.simulated': '(மாதிரி SAML சேவை வழங்குநர்)',
    'ws.sign_in_title': 'உள்நுழை',
    'ws.sign_in': 'உள்நுழை',
    'ws.sign_in_intro': 'உங்கள் Student iCON பணியிடத்திற்குத் தொடர',
    'ws.email': 'Student iCON மின்னஞ்சல் முகவரி',
    'ws.directed': 'உங்கள் MIMS உள்நுழைவு அடையாளம், கடவுச்சொல் கொண்டு உள்நுழைய MIMS நுழைவாயிலுக்கு அழைத்துச் செல்லப்படுவீர்கள்.',
    'ws.next': 'அடுத்து',
    'ws.dashboard_title': 'முகப்பு',
    'ws.your_apps': 'உங்கள் செயலிகள்',
    'ws.lower_primary': 'தொடக்கநிலை 1 முதல் 3 வரையிலான மாணவர்களுக்கு Gmail போன்ற சில செயலிகள் கிடைக்காது.',
    'ws.chat_disabled': 'மறு அறிவிப்பு வரும் வரை Google Chat முடக்கப்பட்டுள்ளது.',
    'ws.saml_details': 'SAML விவரங்கள் (சோதனையாளர்களுக்கு)',
    'ws.signed_out_title': 'வெளியேறிவிட்டீர்கள்',
    'ws.signed_out': 'வெளியேறிவிட்டீர்கள்',
    'ws.signed_out_text': 'நீங்கள் Student iCON-இலிருந்தும் MIMS நுழைவாயிலிலிருந்தும் வெளியேறிவிட்டீர்கள்.',
    'ws.sign_in_again': 'மீண்டும் உள்நுழை',
    'ws.welcome': 'உங்கள் புதிய கணக்கிற்கு வரவேற்கிறோம்',
    'ws.welcome_1': 'உங்கள் புதிய கணக்கிற்கு வரவேற்கிறோம்: {email}. இந்தக் கணக்கைக் கொண்டு எந்த Google Workspace, பிற Google சேவைகளைப் பயன்படுத்தலாம் என்பதை உங்கள் students.edu.sg நிர்வாகி முடிவுசெய்கிறார்.',
    'ws.welcome_2': 'உங்கள் நிறுவன நிர்வாகி இந்தக் கணக்கையும் அதனுடன் தொடர்புடைய எல்லாத் தரவையும் நிர்வகிக்கிறார். அதாவது, உங்கள் தகவல்தொடர்புகளின் உள்ளடக்கம், நீங்கள் சேவைகளைப் பயன்படுத்தும் விதம், உங்கள் கணக்கின் தனியுரிமை அமைப்புகள் உட்பட உங்கள் தரவை நிர்வாகி பார்க்கவும் கையாளவும் முடியும். நிர்வாகி உங்கள் கணக்கை நீக்கவும், இந்தக் கணக்குடன் தொடர்புடைய தரவை நீங்கள் பார்க்க முடியாமல் தடுக்கவும் முடியும்.',
    'ws.welcome_3': 'இந்தக் கணக்கைக் கொண்டு சேவைகளைப் பயன்படுத்துவது உங்கள் நிறுவனத்தின் உள் கொள்கைகளுக்கும் உட்பட்டது.',
    'ws.understand': 'புரிந்துகொண்டேன்',
  },
} satisfies Record<SimLanguage, Record<string, string>>;

export type SimMessageId = keyof typeof SIM_MESSAGES.en;

/** The first of our languages in Accept-Language (by quality), else English. */
export function simLanguage(acceptLanguage: string | undefined): SimLanguage {
  const ranked = (acceptLanguage ?? '').split(',').slice(0, 20).map((part, index) => {
    const [tag = '', ...params] = part.split(';');
    const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    return { lang: tag.trim().toLowerCase().split(/[-_]/)[0], q: q === undefined ? 1 : Number(q), index };
  }).filter((r) => r.q > 0).sort((a, b) => b.q - a.q || a.index - b.index);
  const found = ranked.find((r) => r.lang === 'en' || r.lang === 'zh' || r.lang === 'ms' || r.lang === 'ta');
  return (found?.lang as SimLanguage | undefined) ?? 'en';
}

/** The language a sim's own switcher chose (its cookie), if it is one of ours. */
export function isSimLanguage(v: unknown): v is SimLanguage {
  return v === 'en' || v === 'zh' || v === 'ms' || v === 'ta';
}

/** Each language named in itself, for the sims' own switcher. */
const NAMES: Record<SimLanguage, string> = { en: 'English', zh: '简体中文', ms: 'Bahasa Melayu', ta: 'தமிழ்' };

/**
 * What a sim's page needs: its language tag, t() and its switcher. The language the person
 * chose (the sim's switcher, or the IdP's `locale` claim after a sign-in: `chosen`) wins over
 * the browser's Accept-Language.
 */
export function simLocals(acceptLanguage: string | undefined, chosen?: string, returnTo = '/') {
  const lang = isSimLanguage(chosen) ? chosen : simLanguage(acceptLanguage);
  const words = SIM_MESSAGES[lang] as Record<string, string>;
  return {
    lang,
    htmlLang: TAGS[lang],
    simLanguages: (Object.keys(NAMES) as SimLanguage[]).map((id) => ({ id, name: NAMES[id], tag: TAGS[id], current: id === lang })),
    returnTo,
    t: (id: SimMessageId, params: Record<string, string> = {}) => (words[id] ?? SIM_MESSAGES.en[id]).replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? ''),
  };
}
